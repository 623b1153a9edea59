import type { ResultMessage } from '@vigil/shared';
import type { CategoryPolicy } from './category.js';
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

/** A configured list checked for its length (the config schema checks it too), then read by index. */
function checked(values: readonly number[], length: number, key: string): (i: number) => number {
  if (values.length !== length) throw new Error(`followup.${key}: ${length} values expected, ${values.length} given`);
  return (i) => values[i] as number;
}

function categoryPolicy(f: FollowupSettings): CategoryPolicy {
  const t = checked(f.categoryThresholds, 4, 'categoryThresholds');
  const m = checked(f.intervalMonths, 5, 'intervalMonths');
  return { thresholds: [t(0), t(1), t(2), t(3)], intervalMonths: [m(0), m(1), m(2), m(3), m(4)] };
}

/** The engine's policy from the configured settings (defaults for everything not configurable). */
export function followupPolicy(f: FollowupSettings): FollowupPolicy {
  const category = categoryPolicy(f);
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
