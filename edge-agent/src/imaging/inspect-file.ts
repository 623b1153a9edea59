import { readFile } from 'node:fs/promises';
import { asVigilError } from '@vigil/shared';
import { initCodecs } from './codecs.js';
import { parseDicom } from './dicom-file.js';
import { readImageAttributes } from './image-attributes.js';
import { decodeFrame } from './pixel-data.js';
import { type PixelStats, pixelStats } from './pixel-stats.js';

export type InspectResult =
  | {
      file: string;
      ok: true;
      sopInstanceUid: string;
      transferSyntaxUid: string;
      modality: string;
      rows: number;
      columns: number;
      frames: number;
      bitsStored: number;
      photometric: string;
      pixel: PixelStats;
    }
  | { file: string; ok: false; error: { code: string; message: string } };

/** `vigil-edge inspect`: identity, geometry and frame-1 statistics (after the modality LUT). */
export async function inspectFile(file: string): Promise<InspectResult> {
  try {
    await initCodecs();
    const parsed = parseDicom(await readFile(file));
    const attrs = readImageAttributes(parsed.dataSet);
    const frame = decodeFrame(parsed, attrs, 0);
    const grey = attrs.samplesPerPixel === 1;
    return {
      file,
      ok: true,
      sopInstanceUid: attrs.sopInstanceUid,
      transferSyntaxUid: parsed.transferSyntax.uid,
      modality: attrs.modality,
      rows: attrs.rows,
      columns: attrs.columns,
      frames: attrs.frames,
      bitsStored: attrs.bitsStored,
      photometric: attrs.photometric,
      pixel: pixelStats(frame.pixels, grey ? attrs.rescaleSlope : 1, grey ? attrs.rescaleIntercept : 0),
    };
  } catch (error) {
    const vigil = asVigilError(error);
    const code =
      (error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'EISDIR'
        ? 'VIGIL_DICOM_NOT_DICOM'
        : vigil.code;
    return { file, ok: false, error: { code, message: vigil.message } };
  }
}
