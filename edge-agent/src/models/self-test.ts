import { join } from 'node:path';
import { VigilError } from '@vigil/shared';
import { analyzeInput } from '../inference/analyze-image.js';
import { modelInputFromFile } from '../inference/model-input-from-file.js';
import type { OnnxModel } from '../inference/onnx-model.js';
import { inputSpecOf } from '../inference/preprocess.js';

export interface SelfTestOutcome {
  score: number;
  findings: number;
}

/** What a model outputs on an image through the agent's own decode → preprocess → infer path. */
export async function referenceOutput(model: OnnxModel, imagePath: string): Promise<SelfTestOutcome> {
  const { attrs, input } = await modelInputFromFile(imagePath, inputSpecOf(model.manifest));
  const analysis = await analyzeInput(input, attrs, model);
  return { score: analysis.score, findings: analysis.findings.length };
}

/**
 * Runs the package's reference image and compares with the expected output. A model that loads
 * but computes something else on this device (a broken provider, wrong numerics, a mismatched
 * package) is refused here, before any patient image reaches it.
 */
export async function runSelfTest(
  model: OnnxModel,
  packageDir: string,
  /** NAMED MOCK for what cannot run here: the output drift of a faulty GPU provider (tests only). */
  simulatedProviderDrift = 0,
): Promise<SelfTestOutcome> {
  const spec = model.manifest.selfTest;
  if (!spec) throw new VigilError('VIGIL_MODEL_INVALID', `${model.manifest.name} ${model.manifest.version} has no self-test`);
  const actual = await referenceOutput(model, join(packageDir, spec.image));
  const score = Math.min(1, actual.score + simulatedProviderDrift);
  const scoreOff = Math.abs(score - spec.expected.score);
  const findingsOff = Math.abs(actual.findings - spec.expected.findings);
  if (scoreOff > spec.tolerance.score || findingsOff > spec.tolerance.findings) {
    throw new VigilError(
      'VIGIL_MODEL_SELF_TEST_FAILED',
      `reference image: score ${score.toFixed(4)} (expected ${spec.expected.score.toFixed(4)} ± ${spec.tolerance.score}), ` +
        `${actual.findings} findings (expected ${spec.expected.findings} ± ${spec.tolerance.findings})`,
    );
  }
  return { score, findings: actual.findings };
}
