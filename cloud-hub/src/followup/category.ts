/**
 * A BI-RADS-like assessment category derived from the model's image score. It is model-derived, not
 * a radiologist's assessment, and every label says so.
 */
export interface CategoryPolicy {
  /** Ascending score thresholds: a score ≥ thresholds[i] is at least category i + 2. */
  thresholds: readonly [number, number, number, number];
  /** Recommended follow-up interval in months for categories 1..5. */
  intervalMonths: readonly [number, number, number, number, number];
}

export const DEFAULT_CATEGORY_POLICY: CategoryPolicy = {
  thresholds: [0.2, 0.4, 0.6, 0.8],
  intervalMonths: [12, 12, 6, 1, 1],
};

const NAMES = ['negative', 'benign', 'probably benign', 'suspicious', 'highly suggestive of malignancy'] as const;

export function categoryFromScore(score: number, policy: CategoryPolicy = DEFAULT_CATEGORY_POLICY): number {
  let category = 1;
  for (const t of policy.thresholds) if (score >= t) category += 1;
  return category;
}

export function categoryLabel(category: number): string {
  return `model-derived category ${category} (${NAMES[Math.min(5, Math.max(1, category)) - 1]})`;
}

export function recommendedIntervalMonths(category: number, policy: CategoryPolicy = DEFAULT_CATEGORY_POLICY): number {
  return policy.intervalMonths[Math.min(5, Math.max(1, category)) - 1] as number;
}
