import { type CategoryPolicy, DEFAULT_CATEGORY_POLICY } from '../category.js';

/**
 * What the engine needs before a change reaches the clinician's inbox (warning or critical), and
 * what it reports only "to review" (severity `info`): lower-confidence signals, listed apart.
 * Figures behind each rule: ADR 0015 and ADR 0024.
 */
export interface ChangePolicy {
  /** Growth alerts need both an absolute and a relative increase (measurement error is ~1–2 mm). */
  growthMinMm: number;
  growthMinPercent: number;
  /**
   * One diameter measurement's error (one SD): this many mm plus this share of the diameter (model
   * 0.5.0: median absolute error 0.6–0.7 mm below 30 mm, 0.8–1.3 mm for 30–50 mm masses). Growth
   * past the thresholds reaches the inbox only when it also exceeds `growthMinSd` SDs of the
   * difference of two measurements (or both views show it); less is "to review".
   */
  measurementSdMm: number;
  measurementSdFraction: number;
  growthMinSd: number;
  /**
   * One view's growth reaches the inbox alone only if the lesion's largest diameter over its two
   * views grew past the same thresholds, where both views measured it at both studies: a lesion
   * under-measured in one view at the earlier study "grows" there merely to the size the other
   * view measured all along (ADR 0024 addendum).
   */
  growthAcrossViews: boolean;
  /** Growth with a volume doubling time below this many months is critical. */
  criticalDoublingMonths: number;
  /**
   * A finding not seen before raises an alert from this finding score (a calibrated probability
   * that it is real, for models with a calibration: 0.2 reports every new finding ≥ 5 mm of the
   * evaluation cohorts; whether it reaches the inbox is the other view's to say).
   */
  newFindingMinScore: number;
  newFindingMinMm: number;
  /**
   * A finding's disappearance is reported only once it had been seen in this many studies: a
   * detection seen once and gone the next time is most often the model's own false positive (ADR 0015).
   */
  resolvedMinSightings: number;
  /**
   * The same lesion in the other view (CC ↔ MLO) of the same breast: a finding there within this
   * image-normalised horizontal distance (the distance from the chest wall, the coordinate both views
   * share), widened by a quarter of the lesion's diameter, and of a similar size. A new finding reaches
   * the inbox only when the other view of the same study shows it and neither view showed it before;
   * otherwise it is "to review". 0 turns the check off (every new finding goes to the inbox).
   */
  crossViewTolerance: number;
  /** Largest ratio of the two views' diameters for them to be the same lesion. */
  crossViewMaxSizeRatio: number;
  /** An earlier finding in the same view within this distance (image units, plus the radius) is the same lesion. */
  samePlaceTolerance: number;
  /** Rise of a breast's score (the highest of its views) between consecutive studies. */
  scoreRise: number;
  category: CategoryPolicy;
}

export const DEFAULT_CHANGE_POLICY: ChangePolicy = {
  growthMinMm: 2,
  growthMinPercent: 15,
  measurementSdMm: 0.5,
  measurementSdFraction: 0.03,
  growthMinSd: 2,
  growthAcrossViews: true,
  criticalDoublingMonths: 6,
  newFindingMinScore: 0.2,
  newFindingMinMm: 0,
  resolvedMinSightings: 2,
  crossViewTolerance: 0.025,
  crossViewMaxSizeRatio: 2,
  samePlaceTolerance: 0.08,
  scoreRise: 0.2,
  category: DEFAULT_CATEGORY_POLICY,
};

/** Volume doubling time in months, treating the lesion as a sphere (V ∝ d³); Infinity if not growing. */
export function volumeDoublingMonths(d1: number, d2: number, months: number): number {
  if (!(d2 > d1) || d1 <= 0 || months <= 0) return Number.POSITIVE_INFINITY;
  return (months * Math.LN2) / (3 * Math.log(d2 / d1));
}

/** How many SDs of measurement error a change from d1 to d2 is. */
export function growthInSds(d1: number, d2: number, policy: ChangePolicy): number {
  const sd = (d: number) => policy.measurementSdMm + policy.measurementSdFraction * d;
  return (d2 - d1) / Math.hypot(sd(d1), sd(d2));
}
