import { readFile } from 'node:fs/promises';
import { asVigilError } from '@vigil/shared';
import { initCodecs } from './codecs.js';
import { type ParsedDicom, parseDicom } from './dicom-file.js';
import { type ImageAttributes, readImageAttributes } from './image-attributes.js';
import { type DecodedFrame, decodeFrame } from './pixel-data.js';

/** Read → parse → image attributes → decode one frame: the path every file-based caller shares. */
export async function decodeFile(
  path: string,
  frameIndex = 0,
): Promise<{ parsed: ParsedDicom; attrs: ImageAttributes; frame: DecodedFrame; decodeMs: number }> {
  await initCodecs();
  const started = performance.now();
  const parsed = parseDicom(await readFile(path));
  const attrs = readImageAttributes(parsed.dataSet);
  const frame = decodeFrame(parsed, attrs, Math.min(frameIndex, attrs.frames - 1));
  return { parsed, attrs, frame, decodeMs: performance.now() - started };
}

/** The `{code, message}` of a per-file CLI failure; a missing file or a directory is "not DICOM". */
export function fileError(error: unknown): { code: string; message: string } {
  const vigil = asVigilError(error);
  const errno = (error as NodeJS.ErrnoException).code;
  return { code: errno === 'ENOENT' || errno === 'EISDIR' ? 'VIGIL_DICOM_NOT_DICOM' : vigil.code, message: vigil.message };
}
