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

/** How a device measures a model's output on an image (its decode, preprocess and execution provider). */
export type OutputMeasure = (model: OnnxModel, imagePath: string) => Promise<SelfTestOutcome>;

/** The self-test the model manager runs on every package before activating it. */
export type SelfTest = (model: OnnxModel, packageDir: string) => Promise<SelfTestOutcome>;

/**
 * Runs the package's reference image and compares with the expected output. A model that loads
 * but computes something else on this device (a broken provider, wrong numerics, a mismatched
 * package) is refused here, before any patient image reaches it. `measure` is the device's own path;
 * tests that need a faulty GPU provider (none runs here) pass a named mock.
 */
export async function runSelfTest(
  model: OnnxModel,
  packageDir: string,
  measure: OutputMeasure = referenceOutput,
): Promise<SelfTestOutcome> {
  const spec = model.manifest.selfTest;
  if (!spec) throw new VigilError('VIGIL_MODEL_INVALID', `${model.manifest.name} ${model.manifest.version} has no self-test`);
  const actual = await measure(model, join(packageDir, spec.image));
  const score = actual.score;
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
