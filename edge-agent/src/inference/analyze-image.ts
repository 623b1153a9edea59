import type { Finding } from '@vigil/shared';
import type { ImageAttributes } from '../imaging/image-attributes.js';
import type { StoredPixels } from '../imaging/pixel-data.js';
import { extractFindings, type FindingOptions, imageScore, type ProbabilityMap } from './findings.js';
import { type ModelManifest, operatingPoint } from './model-manifest.js';
import type { OnnxModel } from './onnx-model.js';
import { inputSpecOf, type ModelInput, type PreparedInput, preprocess, sameInputSpec } from './preprocess.js';

export interface Analysis {
  score: number;
  findings: Finding[];
  timingsMs: { preprocess: number; infer: number };
  /** What the model saw (for the overlay picture). */
  input: ModelInput;
}

/**
 * Preprocess → model → findings for one decoded image. A model input already made in the decode
 * worker is used when it was made for this model's input spec (the model may have been swapped
 * since).
 */
export async function analyzeImage(
  pixels: StoredPixels,
  attrs: ImageAttributes,
  model: OnnxModel,
  prepared?: PreparedInput,
): Promise<Analysis> {
  const spec = inputSpecOf(model.manifest);
  let input: ModelInput;
  let preprocessMs: number;
  if (prepared && sameInputSpec(prepared.spec, spec)) {
    input = prepared.input;
    preprocessMs = prepared.preprocessMs;
  } else {
    const started = performance.now();
    input = await preprocess(pixels, attrs, spec);
    preprocessMs = performance.now() - started;
  }
  const { score, findings, inferMs } = await analyzeInput(input, attrs, model);
  return { score, findings, timingsMs: { preprocess: preprocessMs, infer: inferMs }, input };
}

/** Model → findings for an already preprocessed image. */
export async function analyzeInput(
  input: ModelInput,
  attrs: ImageAttributes,
  model: OnnxModel,
): Promise<Pick<Analysis, 'score' | 'findings'> & { inferMs: number }> {
  const started = performance.now();
  const map = await mapOf(model, input);
  const inferMs = performance.now() - started;
  return { score: imageScore(map), findings: findingsOfMap(map, input, attrs, model.manifest), inferMs };
}

/**
 * The model's probability map for an input, with nothing outside the breast (models whose
 * preprocessing finds it): background, labels and the pectoral muscle can draw no mark and no score.
 */
export async function mapOf(model: OnnxModel, input: ModelInput): Promise<ProbabilityMap> {
  const map = await model.run(input.tensor, input.acquisition);
  if (input.breast) maskToBreast(map, input.breast.mask, input.dims[3], model.manifest.output.stride);
  return map;
}

/** Zeroes the map cells (stride × stride input pixels each) with no breast pixel under them. */
export function maskToBreast(map: ProbabilityMap, mask: Uint8Array, inputWidth: number, stride: number): void {
  const inputHeight = mask.length / inputWidth;
  for (let my = 0; my < map.height; my++)
    for (let mx = 0; mx < map.width; mx++) {
      let any = 0;
      for (let dy = 0; dy < stride && !any; dy++) {
        const y = my * stride + dy;
        if (y >= inputHeight) break;
        for (let dx = 0; dx < stride; dx++) {
          const x = mx * stride + dx;
          if (x < inputWidth && mask[y * inputWidth + x]) {
            any = 1;
            break;
          }
        }
      }
      if (!any) map.data[my * map.width + mx] = 0;
    }
}

/**
 * The findings a model's probability map shows, with the manifest's thresholds (what the edge
 * reports) unless `options` overrides them (an evaluation sweeping its own operating points).
 */
export function findingsOfMap(
  map: ProbabilityMap,
  input: Pick<ModelInput, 'scale' | 'mirrored'>,
  attrs: Pick<ImageAttributes, 'rows' | 'columns' | 'pixelSpacingMm' | 'acquisition'>,
  manifest: ModelManifest,
  options: Partial<FindingOptions> = {},
): Finding[] {
  const { finding, calibration } = operatingPoint(manifest, attrs.acquisition);
  const findings = extractFindings(
    map,
    {
      rows: attrs.rows,
      columns: attrs.columns,
      scale: input.scale / manifest.output.stride,
      mirrored: input.mirrored,
      pixelSpacingMm: attrs.pixelSpacingMm ?? [0.1, 0.1],
    },
    {
      threshold: finding,
      minAreaMm2: manifest.thresholds.minAreaMm2,
      maxFindings: manifest.thresholds.maxFindings,
      ...options,
    },
  );
  if (!calibration) return findings;
  return findings.map((f) => ({ ...f, score: Math.round(calibratedScore(f.score, calibration) * 1e4) / 1e4 }));
}

/** A peak probability through the manifest's calibration (monotone: the findings' order is kept). */
export function calibratedScore(p: number, c: { a: number; b: number }): number {
  const q = Math.min(1 - 1e-6, Math.max(1e-6, p));
  return 1 / (1 + Math.exp(-(c.a * Math.log(q / (1 - q)) + c.b)));
}
