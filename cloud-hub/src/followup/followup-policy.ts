import type { ResultMessage } from '@vigil/shared';
import type { DEFAULT_CATEGORY_POLICY } from './category.js';
import { DEFAULT_FOLLOWUP_POLICY, type FollowupPolicy } from './followup-service.js';

/** The `followup` section of the hub's configuration (thresholds a clinical lead may tune). */
export interface FollowupSettings {
  growthMinMm: number;
  growthMinPercent: number;
  newFindingMinScore: number;
  scoreRise: number;
  resolvedMinSightings: number;
  crossViewTolerance: number;
  crossViewMaxSizeRatio: number;
  categoryThresholds: number[];
  intervalMonths: number[];
  positionTolerance: number;
  graceDays: number;
  minTissueFraction: number;
}

/** The engine's policy from the configured settings (defaults for everything not configurable). */
export function followupPolicy(f: FollowupSettings): FollowupPolicy {
  const category = {
    thresholds: f.categoryThresholds as unknown as typeof DEFAULT_CATEGORY_POLICY.thresholds,
    intervalMonths: f.intervalMonths as unknown as typeof DEFAULT_CATEGORY_POLICY.intervalMonths,
  };
  const d = DEFAULT_FOLLOWUP_POLICY;
  return {
    timeline: {
      ...d.timeline,
      category,
      match: { ...d.timeline.match, positionTolerance: f.positionTolerance },
      minTissueFraction: f.minTissueFraction,
    },
    change: {
      ...d.change,
      category,
      growthMinMm: f.growthMinMm,
      growthMinPercent: f.growthMinPercent,
      newFindingMinScore: f.newFindingMinScore,
      scoreRise: f.scoreRise,
      resolvedMinSightings: f.resolvedMinSightings,
      crossViewTolerance: f.crossViewTolerance,
      crossViewMaxSizeRatio: f.crossViewMaxSizeRatio,
    },
    overdue: { category, graceDays: f.graceDays },
  };
}

/** The patients whose timelines a committed batch of results changes: shadow results change none. */
export function patientsTouched(results: readonly Pick<ResultMessage, 'patientKey' | 'shadow'>[]): Set<string> {
  const patients = new Set<string>();
  for (const r of results) if (!r.shadow) patients.add(r.patientKey);
  return patients;
}
