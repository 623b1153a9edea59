import type { DeviceAddress } from '@vigil/shared';
import { type Finding, OVERLAY_PNG_MAX_BASE64, RESULT_SCHEMA, type ResultMessage, resultMessageId } from '@vigil/shared';
import type { PreparedInput } from '../imaging/decode-task.js';
import type { ImageAttributes } from '../imaging/image-attributes.js';
import type { StoredPixels } from '../imaging/pixel-data.js';
import type { PreparedImage } from '../pipeline/image-pipeline.js';
import { extractFindings, imageScore } from './findings.js';
import type { OnnxModel } from './onnx-model.js';
import { inputSpecOf, type ModelInput, preprocess, sameInputSpec } from './preprocess.js';

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
  const { manifest } = model;
  const started = performance.now();
  const map = await model.run(input.tensor);
  const inferMs = performance.now() - started;
  const spacing = attrs.pixelSpacingMm ?? [0.1, 0.1];
  const findings = extractFindings(
    map,
    {
      rows: attrs.rows,
      columns: attrs.columns,
      scale: input.scale / manifest.output.stride,
      mirrored: input.mirrored,
      pixelSpacingMm: spacing,
    },
    {
      threshold: manifest.thresholds.finding,
      minAreaMm2: manifest.thresholds.minAreaMm2,
      maxFindings: manifest.thresholds.maxFindings,
    },
  );
  return { score: imageScore(map), findings, inferMs };
}

/** The vigil.result/1 message for an analysed, de-identified image. Its id is deterministic. */
export function buildResult(address: DeviceAddress, image: PreparedImage, analysis: Analysis, model: OnnxModel): ResultMessage {
  const { manifest } = model;
  const round = (n: number) => Math.round(n * 100) / 100;
  return {
    schema: RESULT_SCHEMA,
    messageId: resultMessageId(image.image.instanceKey, manifest.name, manifest.version),
    clinicId: address.clinicId,
    deviceId: address.deviceId,
    createdAt: new Date().toISOString(),
    patientKey: image.image.patientKey,
    studyKey: image.image.studyKey,
    seriesKey: image.image.seriesKey,
    instanceKey: image.image.instanceKey,
    studyDate: image.image.studyDate,
    ...(image.image.patientAgeYears !== undefined ? { patientAgeYears: image.image.patientAgeYears } : {}),
    modality: image.image.modality,
    laterality: image.image.laterality,
    view: image.image.view,
    model: { name: manifest.name, version: manifest.version },
    score: analysis.score,
    findings: analysis.findings,
    image: {
      rows: image.attrs.rows,
      columns: image.attrs.columns,
      pixelSpacingMm: image.attrs.pixelSpacingMm?.[1] ?? 0.1,
      tissueFraction: analysis.input.tissueFraction,
    },
    timingsMs: {
      decode: round(image.timingsMs.decode),
      preprocess: round(analysis.timingsMs.preprocess),
      infer: round(analysis.timingsMs.infer),
    },
  };
}

/**
 * The result with its overlay PNG attached, unless the PNG is larger than a result may carry: then
 * the result goes without it (the PNG stays at the edge) rather than failing validation and being
 * lost with it.
 */
export function withOverlay(result: ResultMessage, png: Buffer): { result: ResultMessage; omitted: boolean } {
  const base64 = png.toString('base64');
  if (base64.length > OVERLAY_PNG_MAX_BASE64) return { result, omitted: true };
  return { result: { ...result, overlayPng: base64 }, omitted: false };
}
