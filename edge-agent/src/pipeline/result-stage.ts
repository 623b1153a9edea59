import { type DeviceAddress, OVERLAY_PNG_MAX_BASE64, RESULT_SCHEMA, type ResultMessage, resultMessageId } from '@vigil/shared';
import type { Analysis } from '../inference/analyze-image.js';
import type { OnnxModel } from '../inference/onnx-model.js';
import type { PreparedImage } from './prepare-image.js';

// The result stage: what the hub gets for an analysed image — pseudonyms, dates, findings; never
// `image.clinic` (the real identity stays at the edge).

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
