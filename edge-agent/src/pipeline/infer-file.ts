import { createLogger, VigilError } from '@vigil/shared';
import { fileError } from '../imaging/decode-file.js';
import type { OnnxModel } from '../inference/onnx-model.js';
import { inputSpecOf } from '../inference/preprocess.js';
import { ImageProcessor } from './image-processor.js';
import { inlineDecoder, prepareImage } from './prepare-image.js';

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

/**
 * `vigil-edge infer`: one file through the agent's own stages — decode, de-identify, infer, result —
 * in this process, with no sink but the answer.
 */
export async function inferFile(file: string, model: OnnxModel, secret: string, issuer: string): Promise<InferResult> {
  try {
    const decoded = await inlineDecoder.decode({ path: file, frameIndex: 0, preprocess: inputSpecOf(model.manifest) });
    if (!decoded.ok) return { file, ok: false, error: decoded.error };
    const prepared = prepareImage(file, decoded, { secret, defaultIssuer: issuer });
    const processor = new ImageProcessor({
      address: { clinicId: issuer, deviceId: 'vigil-edge-infer' },
      models: { active: { model } },
      sinks: [],
      logger: createLogger('vigil-edge', { level: 'silent' }),
    });
    const [analysed] = await processor.process(prepared);
    if (!analysed) throw new VigilError('VIGIL_INTERNAL', 'no result');
    const { result } = analysed;
    return {
      file,
      ok: true,
      resultId: result.messageId,
      model: result.model,
      score: result.score,
      findings: result.findings,
      timingsMs: result.timingsMs,
    };
  } catch (error) {
    return { file, ok: false, error: fileError(error) };
  }
}
