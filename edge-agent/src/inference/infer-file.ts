import { resultMessageId } from '@vigil/shared';
import { deidentify } from '../deid/deidentify.js';
import { readDicomIdentity } from '../deid/dicom-identity.js';
import { fileError } from '../imaging/decode-file.js';
import { analyzeInput } from './analyze-image.js';
import { modelInputFromFile } from './model-input-from-file.js';
import type { OnnxModel } from './onnx-model.js';
import { inputSpecOf } from './preprocess.js';

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
    const { parsed, attrs, input, decodeMs: decode, preprocessMs } = await modelInputFromFile(file, inputSpecOf(model.manifest));
    const analysis = await analyzeInput(input, attrs, model);
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
        preprocess: round(preprocessMs),
        infer: round(analysis.inferMs),
      },
    };
  } catch (error) {
    return { file, ok: false, error: fileError(error) };
  }
}
