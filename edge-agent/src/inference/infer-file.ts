import { readFile } from 'node:fs/promises';
import { asVigilError, resultMessageId } from '@vigil/shared';
import { deidentify } from '../deid/deidentify.js';
import { readDicomIdentity } from '../deid/dicom-identity.js';
import { initCodecs } from '../imaging/codecs.js';
import { parseDicom } from '../imaging/dicom-file.js';
import { readImageAttributes } from '../imaging/image-attributes.js';
import { decodeFrame } from '../imaging/pixel-data.js';
import { analyzeImage } from './analyze-image.js';
import type { OnnxModel } from './onnx-model.js';

export type InferResult =
  | {
      file: string;
      ok: true;
      resultId: string;
      model: { name: string; version: string };
      score: number;
      findings: { x: number; y: number; diameterMm: number; areaMm2: number; score: number }[];
      timingsMs: { decode: number; preprocess: number; infer: number };
    }
  | { file: string; ok: false; error: { code: string; message: string } };

/** `vigil-edge infer`: decode, preprocess and run the model on one file (in-process). */
export async function inferFile(file: string, model: OnnxModel, secret: string, issuer: string): Promise<InferResult> {
  try {
    await initCodecs();
    const t0 = performance.now();
    const parsed = parseDicom(await readFile(file));
    const attrs = readImageAttributes(parsed.dataSet);
    const frame = decodeFrame(parsed, attrs, 0);
    const decode = performance.now() - t0;
    const analysis = await analyzeImage(frame.pixels, attrs, model);
    const image = deidentify(readDicomIdentity(parsed.dataSet), { secret, defaultIssuer: issuer });
    const round = (n: number) => Math.round(n * 100) / 100;
    return {
      file,
      ok: true,
      resultId: resultMessageId(image.instanceKey, model.manifest.name, model.manifest.version),
      model: { name: model.manifest.name, version: model.manifest.version },
      score: analysis.score,
      findings: analysis.findings,
      timingsMs: {
        decode: round(decode),
        preprocess: round(analysis.timingsMs.preprocess),
        infer: round(analysis.timingsMs.infer),
      },
    };
  } catch (error) {
    const vigil = asVigilError(error);
    const errno = (error as NodeJS.ErrnoException).code;
    return {
      file,
      ok: false,
      error: { code: errno === 'ENOENT' || errno === 'EISDIR' ? 'VIGIL_DICOM_NOT_DICOM' : vigil.code, message: vigil.message },
    };
  }
}
