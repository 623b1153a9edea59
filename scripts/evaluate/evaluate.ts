import { type InferredCohort, inferCohort } from './infer-cohort.js';
import { type Candidate, frocPoints, median, rocAuc, round3, type TruthLesion } from './metrics.js';

export interface Evaluation {
  images: number;
  positiveImages: number;
  imageAuc: number;
  lesions5mm: number;
  /** Best sensitivity for findings ≥ 5 mm with at most 0.5 false positives per image. */
  sensitivityAt05Fp: number;
  thresholdAt05Fp: number;
  falsePositivesPerImageAtThreshold: number;
  /** The stricter phantom bar (issue 26): best sensitivity with at most 0.1 false positives per image. */
  sensitivityAt01Fp: number;
  falsePositivesPerImageAt01Fp: number;
  medianSizeErrorMm: number;
  /** Per finding type (findings ≥ 5 mm): how many, and the share found at the operating point. */
  byType: Record<string, { lesions: number; sensitivity: number }>;
  target: string;
}

interface Collected {
  images: number;
  scores: number[];
  labels: boolean[];
  candidates: Candidate[];
  lesions: TruthLesion[];
  lesionTypes: string[];
  /** Findings below 5 mm: outside the sensitivity figure; a candidate on one is not a false positive. */
  smallLesions: TruthLesion[];
}

/** The image-level view of one inference pass: scores, candidates and lesions in mm. */
function collect(cohort: InferredCohort): Collected {
  const scores: number[] = [];
  const labels: boolean[] = [];
  const candidates: Candidate[] = [];
  const lesions: TruthLesion[] = [];
  const lesionTypes: string[] = [];
  const smallLesions: TruthLesion[] = [];
  for (const [n, { image, score, candidates: found }] of cohort.images.entries()) {
    scores.push(score);
    // A real dataset's lesion without a position (diffuse calcifications) makes the image abnormal.
    labels.push(image.findings.length > 0 || (image.unlocated?.length ?? 0) > 0);
    const spacing = image.pixelSpacingMm;
    for (const f of found)
      candidates.push({
        image: n,
        xMm: f.x * image.columns * spacing,
        yMm: f.y * image.rows * spacing,
        diameterMm: f.diameterMm,
        score: f.score,
      });
    for (const f of image.findings) {
      const lesion = { image: n, xMm: f.x * image.columns * spacing, yMm: f.y * image.rows * spacing, diameterMm: f.diameterMm };
      if (f.diameterMm >= 5) {
        lesions.push(lesion);
        lesionTypes.push(f.type);
      } else smallLesions.push(lesion);
    }
  }
  return { images: cohort.images.length, scores, labels, candidates, lesions, lesionTypes, smallLesions };
}

export async function evaluate(
  phantomDir: string,
  modelDir: string,
  onProgress?: (done: number, total: number) => void,
): Promise<Evaluation> {
  return evaluateImages(await inferCohort(phantomDir, modelDir, { onProgress }));
}

/** Image- and lesion-level figures of one inference pass (the model's quality bar). */
export function evaluateImages(cohort: InferredCohort): Evaluation {
  const { images, scores, labels, candidates, lesions, lesionTypes, smallLesions } = collect(cohort);
  const points = frocPoints(candidates, lesions, images, smallLesions);
  const bestWithin = (maxFalsePositives: number) =>
    points
      .filter((p) => p.falsePositivesPerImage <= maxFalsePositives)
      .sort((a, b) => b.sensitivity - a.sensitivity || b.threshold - a.threshold)[0];
  const best = bestWithin(0.5);
  const strict = bestWithin(0.1);
  const hits = new Set(best?.hits ?? []);
  const byType: Evaluation['byType'] = {};
  for (const [i, type] of lesionTypes.entries()) {
    const entry = byType[type] ?? { lesions: 0, sensitivity: 0 };
    byType[type] = entry;
    entry.lesions += 1;
    if (hits.has(i)) entry.sensitivity += 1;
  }
  for (const entry of Object.values(byType)) entry.sensitivity = round3(entry.sensitivity / entry.lesions);
  return {
    images,
    positiveImages: labels.filter(Boolean).length,
    imageAuc: round3(rocAuc(scores, labels)),
    lesions5mm: lesions.length,
    sensitivityAt05Fp: round3(best?.sensitivity ?? 0),
    thresholdAt05Fp: round3(best?.threshold ?? Number.NaN),
    falsePositivesPerImageAtThreshold: round3(best?.falsePositivesPerImage ?? Number.NaN),
    sensitivityAt01Fp: round3(strict?.sensitivity ?? 0),
    falsePositivesPerImageAt01Fp: round3(strict?.falsePositivesPerImage ?? Number.NaN),
    medianSizeErrorMm: round3(median(best?.sizeErrorsMm ?? [])),
    byType,
    target: 'imageAuc >= 0.95; sensitivityAt05Fp >= 0.9 (findings >= 5 mm, <= 0.5 FP/image); medianSizeErrorMm <= 1.5',
  };
}

/**
 * The lowest finding threshold whose false positives stay within `maxFalsePositivesPerImage` on the
 * given patients of a phantom set (a training run's own held-out split): the operating point a
 * model manifest ships with; undefined when no threshold keeps within the limit (or no lesions).
 */
export async function calibrateFindingThreshold(
  phantomDir: string,
  modelDir: string,
  patients: ReadonlySet<string>,
  maxFalsePositivesPerImage: number,
): Promise<{ threshold: number; sensitivity: number; falsePositivesPerImage: number; images: number } | undefined> {
  const { images, candidates, lesions, smallLesions } = collect(await inferCohort(phantomDir, modelDir, { patients }));
  const best = frocPoints(candidates, lesions, images, smallLesions)
    .filter((p) => p.falsePositivesPerImage <= maxFalsePositivesPerImage)
    .sort((a, b) => a.threshold - b.threshold)[0];
  if (!best) return undefined;
  return {
    threshold: round3(best.threshold),
    sensitivity: round3(best.sensitivity),
    falsePositivesPerImage: round3(best.falsePositivesPerImage),
    images,
  };
}
