import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger, ResultMessage } from '@vigil/shared';
import type { AtRest } from '../at-rest/at-rest-cipher.js';
import { renderOverlay } from '../inference/overlay.js';
import type { AnalysedImage, ResultDecorator } from './image-processor.js';
import { withOverlay } from './result-stage.js';

/**
 * Keeps a low-resolution overlay PNG (findings outlined) per image under {dataDir}/overlays, named by
 * the pseudonym, and attaches it to the result when the edge is configured to send it. An overlay is
 * a convenience: when it cannot be made the result goes without it.
 */
export class OverlayStage implements ResultDecorator {
  constructor(private readonly o: { dir: string; send: boolean; logger: Logger; atRest?: AtRest }) {}

  async decorate(a: AnalysedImage): Promise<ResultMessage> {
    if (a.shadow) return a.result;
    let png: Buffer;
    try {
      png = await renderOverlay(a.analysis.input, a.result.findings, a.result.image);
      mkdirSync(this.o.dir, { recursive: true });
      await writeFile(join(this.o.dir, `${a.result.instanceKey}.png`), this.o.atRest ? this.o.atRest.seal(png) : png);
    } catch (error) {
      this.o.logger.warn(
        { code: 'VIGIL_INTERNAL', instanceKey: a.result.instanceKey, err: (error as Error).message },
        'overlay not written',
      );
      return a.result;
    }
    if (!this.o.send) return a.result;
    const attached = withOverlay(a.result, png);
    if (attached.omitted) {
      this.o.logger.warn(
        { code: 'VIGIL_PAYLOAD_OVERSIZED', instanceKey: a.result.instanceKey, overlayBytes: png.byteLength },
        'overlay too large to send: the result goes without it (the PNG is kept at the edge)',
      );
    }
    return attached.result;
  }
}
