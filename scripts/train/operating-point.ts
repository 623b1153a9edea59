import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calibrationSamples, fitPlatt } from '../evaluate/calibration.js';
import type { FrocReport } from '../evaluate/froc.js';
import type { InferredCohort } from '../evaluate/infer-cohort.js';
import { findingThreshold, rawThreshold } from './compose-branches.js';
import type { ModelManifest } from './train-model.js';

/**
 * The model trained on every woman (`cross-validate --final`) takes the operating point the
 * cross-validation measured on women the fold models never saw (the FROC's point at ≤ 1 false mark
 * per image), instead of the one its own small held-out split gave. Fold models without a score
 * calibration put that point on the map's own probability: the final model then also gets its
 * calibration from the fold models' out-of-fold marks at or above it (when its own held-out split
 * had too few findings to fit one), so its scores mean what the cross-validation saw them mean.
 */
export function adoptOperatingPoint(
  modelDir: string,
  cohort: InferredCohort,
  parts: readonly InferredCohort[],
  report: FrocReport,
  log: (line: string) => void,
): ModelManifest {
  const file = join(modelDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ModelManifest;
  const rawScores = parts.every((p) => !p.model.calibrated);
  const { threshold } = report.at;
  if (rawScores && !manifest.calibration) {
    const samples = calibrationSamples(cohort, (image) => image.candidates.filter((c) => c.score >= threshold));
    const real = samples.filter((s) => s.real).length;
    if (samples.length >= 50 && real > 0 && real < samples.length) {
      manifest.calibration = { method: 'platt', ...fitPlatt(samples) };
      manifest.training.calibration = { source: 'cross-validation, out-of-fold marks', findings: samples.length, real };
      log(
        `calibration from ${samples.length} out-of-fold marks (${real} real): a ${manifest.calibration.a}, b ${manifest.calibration.b}`,
      );
    }
  }
  // A raw-score point is a map probability already; a calibrated one goes back through this model's calibration.
  const finding = rawScores ? findingThreshold(threshold) : rawThreshold(threshold, manifest);
  manifest.thresholds = { ...manifest.thresholds, finding };
  manifest.training.operatingPoint = {
    source: 'cross-validation',
    maxFalseMarksPerImage: report.at.maxMarks,
    marksPerImage: report.at.marksPerImage,
    sensitivity: report.at.sensitivity,
    score: threshold,
    scores: rawScores ? 'map probability' : 'calibrated',
  };
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  log(
    `operating point from the cross-validation: finding threshold ${finding} (${report.at.sensitivity} found at ${report.at.marksPerImage} marks/image)`,
  );
  return manifest;
}
