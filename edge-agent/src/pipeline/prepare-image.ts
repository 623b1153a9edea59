import { type DeidentifiedImage, type DeidentifyOptions, deidentify } from '../deid/deidentify.js';
import type { DicomIdentity } from '../deid/dicom-identity.js';
import type { ImageAttributes } from '../imaging/image-attributes.js';
import type { StoredPixels } from '../imaging/pixel-data.js';
import type { PreparedInput } from '../inference/preprocess.js';
import type { DecodeTask, DecodeTaskResult } from './decode-task.js';
import { runDecodeTask } from './decode-task.js';

/**
 * A decoded, de-identified image, ready for inference. `image` holds the pseudonyms and dates the
 * hub may see; `clinic` holds the instance's real identity, which only the clinic's own systems get
 * (the PACS objects, the local re-identification index): the result builder never reads it.
 */
export interface PreparedImage {
  path: string;
  transferSyntaxUid: string;
  image: DeidentifiedImage;
  clinic: DicomIdentity;
  attrs: ImageAttributes;
  pixels: StoredPixels;
  photometric: string;
  timingsMs: { decode: number };
  /** The model input, preprocessed in the decode worker for the spec the pipeline asked for. */
  modelInput?: PreparedInput;
}

/** The decode stage: a worker pool for the agent, in process for the CLI. */
export interface Decoder {
  decode(task: DecodeTask): Promise<DecodeTaskResult>;
}

/** Decodes in this thread (the CLI's one-off files). */
export const inlineDecoder: Decoder = { decode: runDecodeTask };

/** The de-identify stage: pseudonyms for the hub, the identity kept apart for the clinic. */
export function prepareImage(
  path: string,
  decoded: Extract<DecodeTaskResult, { ok: true }>,
  deid: DeidentifyOptions,
): PreparedImage {
  return {
    path,
    transferSyntaxUid: decoded.transferSyntaxUid,
    image: deidentify(decoded.identity, deid),
    clinic: decoded.identity,
    attrs: decoded.attrs,
    pixels: decoded.pixels,
    photometric: decoded.photometric,
    timingsMs: { decode: decoded.decodeMs },
    ...(decoded.modelInput ? { modelInput: decoded.modelInput } : {}),
  };
}
