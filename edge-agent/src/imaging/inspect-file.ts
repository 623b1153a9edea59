import { decodeFile, fileError } from './decode-file.js';
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
    const { parsed, attrs, frame } = await decodeFile(file);
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
    return { file, ok: false, error: fileError(error) };
  }
}
