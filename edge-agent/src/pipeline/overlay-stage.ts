import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { rename, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger, ResultMessage } from '@vigil/shared';
import type { AtRest } from '../at-rest/at-rest-cipher.js';
import { renderOverlay } from '../inference/overlay.js';
import type { AnalysedImage, ResultDecorator } from './image-processor.js';
import { withOverlay } from './result-stage.js';

const PARTIAL_PREFIX = '.overlay-partial-';

/**
 * Keeps a low-resolution overlay PNG (findings outlined) per image under {dataDir}/overlays, named by
 * the pseudonym, and attaches it to the result when the edge is configured to send it. An overlay is
 * a convenience: when it cannot be made the result goes without it.
 */
export class OverlayStage implements ResultDecorator {
  constructor(private readonly o: { dir: string; send: boolean; logger: Logger; atRest?: AtRest }) {
    // A write that a crash cut off left a partial file beside the folder (never in it): remove it.
    const parent = dirname(o.dir);
    for (const name of existsSync(parent) ? readdirSync(parent) : []) {
      if (name.startsWith(PARTIAL_PREFIX)) rmSync(join(parent, name), { force: true });
    }
  }

  async decorate(a: AnalysedImage): Promise<ResultMessage> {
    if (a.shadow) return a.result;
    let png: Buffer;
    try {
      png = await renderOverlay(a.analysis.input, a.result.findings, a.result.image);
      mkdirSync(this.o.dir, { recursive: true });
      // Written beside the folder, then renamed into it: a kill mid-write never leaves a partial
      // (unreadable, and with encryption on, not yet sealed-looking) overlay in the folder.
      const partial = join(dirname(this.o.dir), `${PARTIAL_PREFIX}${a.result.instanceKey}`);
      await writeFile(partial, this.o.atRest ? this.o.atRest.seal(png) : png);
      await rename(partial, join(this.o.dir, `${a.result.instanceKey}.png`));
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
