import { readFile } from 'node:fs/promises';
import { asVigilError } from '@vigil/shared';
import { type DicomIdentity, readDicomIdentity } from '../deid/dicom-identity.js';
import { initCodecs } from '../imaging/codecs.js';
import { parseDicom } from '../imaging/dicom-file.js';
import { type ImageAttributes, readImageAttributes } from '../imaging/image-attributes.js';
import { decodeFrame, type StoredPixels } from '../imaging/pixel-data.js';
import { type InputSpec, type PreparedInput, preprocess } from '../inference/preprocess.js';

export interface DecodeTask {
  path: string;
  frameIndex: number;
  /**
   * Also preprocess into this model input, in the worker: the per-pixel work on a 13-Mpixel image
   * then never runs on the main thread, which keeps inference and I/O there.
   */
  preprocess?: InputSpec;
}

export type DecodeTaskResult =
  | {
      ok: true;
      transferSyntaxUid: string;
      attrs: ImageAttributes;
      identity: DicomIdentity;
      pixels: StoredPixels;
      photometric: string;
      decodeMs: number;
      /** The model input for `task.preprocess`, when asked for. */
      modelInput?: PreparedInput;
    }
  | { ok: false; error: { code: string; message: string }; sopInstanceUid?: string };

/**
 * The decode stage of the edge's pipeline, in a worker thread: read, parse, read the header's
 * identity (for de-identification on the main thread, and the clinic's own PACS objects), decode
 * the first frame and, when asked, make the model input. The WASM codecs are synchronous, hence the
 * worker; errors come back as values so their codes survive the thread boundary.
 */
export async function runDecodeTask(
  task: DecodeTask,
  read: (path: string) => Promise<Buffer> = (path) => readFile(path),
): Promise<DecodeTaskResult> {
  let sopInstanceUid: string | undefined;
  try {
    await initCodecs();
    const started = performance.now();
    const parsed = parseDicom(await read(task.path));
    const identity = readDicomIdentity(parsed.dataSet);
    sopInstanceUid = identity.sopInstanceUid || undefined;
    const attrs = readImageAttributes(parsed.dataSet);
    const frame = decodeFrame(parsed, attrs, Math.min(task.frameIndex, attrs.frames - 1));
    // The pixels may be a view into the file buffer (or Node's shared buffer pool): give them a
    // buffer of their own so it can be transferred to the main thread.
    const owned =
      frame.pixels.byteOffset === 0 && frame.pixels.buffer.byteLength === frame.pixels.byteLength
        ? frame.pixels
        : frame.pixels.slice();
    const decodeMs = performance.now() - started;
    let modelInput: PreparedInput | undefined;
    if (task.preprocess) {
      const preprocessStarted = performance.now();
      const input = await preprocess(owned, attrs, task.preprocess);
      modelInput = { spec: task.preprocess, input, preprocessMs: performance.now() - preprocessStarted };
    }
    return {
      ok: true,
      transferSyntaxUid: parsed.transferSyntax.uid,
      attrs,
      identity,
      pixels: owned,
      photometric: frame.photometric,
      decodeMs,
      ...(modelInput ? { modelInput } : {}),
    };
  } catch (error) {
    const vigil = asVigilError(error, 'VIGIL_DICOM_DECODE_FAILED');
    return { ok: false, error: { code: vigil.code, message: vigil.message }, ...(sopInstanceUid ? { sopInstanceUid } : {}) };
  }
}
