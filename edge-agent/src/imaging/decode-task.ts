import { readFile } from 'node:fs/promises';
import { asVigilError } from '@vigil/shared';
import { type DicomIdentity, readDicomIdentity } from '../deid/dicom-identity.js';
import { initCodecs } from './codecs.js';
import { parseDicom } from './dicom-file.js';
import { type ImageAttributes, readImageAttributes } from './image-attributes.js';
import { decodeFrame, type StoredPixels } from './pixel-data.js';

export interface DecodeTask {
  path: string;
  frameIndex: number;
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
    }
  | { ok: false; error: { code: string; message: string }; sopInstanceUid?: string };

/**
 * Read, parse and decode one instance. Runs inside a worker thread (the WASM codecs are
 * synchronous); errors come back as values so their codes survive the thread boundary.
 */
export async function runDecodeTask(task: DecodeTask): Promise<DecodeTaskResult> {
  let sopInstanceUid: string | undefined;
  try {
    await initCodecs();
    const started = performance.now();
    const parsed = parseDicom(await readFile(task.path));
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
    return {
      ok: true,
      transferSyntaxUid: parsed.transferSyntax.uid,
      attrs,
      identity,
      pixels: owned,
      photometric: frame.photometric,
      decodeMs: performance.now() - started,
    };
  } catch (error) {
    const vigil = asVigilError(error, 'VIGIL_DICOM_DECODE_FAILED');
    return { ok: false, error: { code: vigil.code, message: vigil.message }, ...(sopInstanceUid ? { sopInstanceUid } : {}) };
  }
}
