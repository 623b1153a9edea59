import { type CategoryPolicy, categoryLabel, DEFAULT_CATEGORY_POLICY } from './category.js';
import type { AlertCondition, AlertSeverity, PatientTimeline, TimelineSeries, TrackPoint } from './followup-types.js';
import { monthsBetween } from './study-dates.js';

export interface ChangePolicy {
  /** Growth alerts need both an absolute and a relative increase (measurement error is ~1–2 mm). */
  growthMinMm: number;
  growthMinPercent: number;
  /** Growth with a volume doubling time below this many months is critical. */
  criticalDoublingMonths: number;
  /** A finding not seen before raises an alert from this finding score. */
  newFindingMinScore: number;
  newFindingMinMm: number;
  /**
   * A finding's disappearance is reported only once it had been seen in this many studies: a
   * detection seen once and gone the next time is most often the model's own false positive, and
   * "resolved" alerts for those were most of the noise (ADR 0015).
   */
  resolvedMinSightings: number;
  /**
   * A new finding is checked against the other view (CC ↔ MLO) of the same breast in the same
   * study: a finding there within this image-normalised horizontal distance (the distance from the
   * chest wall, the coordinate both views share) corroborates it. One the other view does not show
   * is reported one severity lower. 0 turns the check off.
   */
  crossViewTolerance: number;
  /** Image score rise between consecutive studies of a series. */
  scoreRise: number;
  category: CategoryPolicy;
}

export const DEFAULT_CHANGE_POLICY: ChangePolicy = {
  growthMinMm: 2,
  growthMinPercent: 15,
  criticalDoublingMonths: 6,
  newFindingMinScore: 0.5,
  newFindingMinMm: 0,
  resolvedMinSightings: 2,
  crossViewTolerance: 0.1,
  scoreRise: 0.2,
  category: DEFAULT_CATEGORY_POLICY,
};

const SIDE = { L: 'Left', R: 'Right', U: 'Unknown side' } as const;

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

function at(p: { x: number; y: number }): string {
  return `(${p.x.toFixed(2)}, ${p.y.toFixed(2)})`;
}

/** Volume doubling time in months, treating the lesion as a sphere (V ∝ d³); Infinity if not growing. */
export function volumeDoublingMonths(d1: number, d2: number, months: number): number {
  if (!(d2 > d1) || d1 <= 0 || months <= 0) return Number.POSITIVE_INFINITY;
  return (months * Math.LN2) / (3 * Math.log(d2 / d1));
}

function growthConditions(patientKey: string, s: TimelineSeries, policy: ChangePolicy): AlertCondition[] {
  const out: AlertCondition[] = [];
  const where = `${SIDE[s.laterality]} ${s.view}`;
  for (const track of s.tracks) {
    for (let i = 1; i < track.points.length; i++) {
      const a = track.points[i - 1] as TrackPoint;
      const b = track.points[i] as TrackPoint;
      const months = monthsBetween(a.studyDate, b.studyDate);
      const growthMm = b.diameterMm - a.diameterMm;
      const growthPercent = a.diameterMm > 0 ? (100 * growthMm) / a.diameterMm : Number.POSITIVE_INFINITY;
      if (months <= 0 || growthMm < policy.growthMinMm || growthPercent < policy.growthMinPercent) continue;
      const doubling = volumeDoublingMonths(a.diameterMm, b.diameterMm, months);
      out.push({
        alertKey: `growth:${b.resultId}:${b.findingIndex}`,
        kind: 'growth',
        severity: doubling < policy.criticalDoublingMonths ? 'critical' : 'warning',
        patientKey,
        laterality: s.laterality,
        view: s.view,
        studyKey: b.studyKey,
        studyDate: b.studyDate,
        trackId: track.trackId,
        reason:
          `${where}: finding at ${at(b)} grew ${a.diameterMm.toFixed(1)} → ${b.diameterMm.toFixed(1)} mm ` +
          `(+${growthPercent.toFixed(0)} %) in ${months.toFixed(1)} months, ` +
          `${(growthMm / months).toFixed(2)} mm/month, volume doubling time ${doubling.toFixed(1)} months`,
        figures: {
          fromMm: round(a.diameterMm, 2),
          toMm: round(b.diameterMm, 2),
          growthMm: round(growthMm, 2),
          growthPercent: round(growthPercent, 1),
          months: round(months, 2),
          mmPerMonth: round(growthMm / months, 3),
          doublingMonths: round(doubling, 2),
        },
      });
    }
  }
  return out;
}

const PARTNER_VIEW: Record<string, string> = { CC: 'MLO', MLO: 'CC' };
const LOWER: Record<AlertSeverity, AlertSeverity> = { critical: 'warning', warning: 'info', info: 'info' };

/**
 * What the other view of the same breast shows at a study: undefined when that view was not imaged
 * (or is not known yet), else whether it has a finding at about the same distance from the chest
 * wall. Both views of a breast are stored with the chest wall on the same side, so comparing x
 * needs no orientation.
 */
type CrossView = (studyKey: string, x: number) => boolean | undefined;

function crossViewOf(timeline: PatientTimeline, s: TimelineSeries, tolerance: number): CrossView {
  const partner = PARTNER_VIEW[s.view];
  const other = timeline.series.find((o) => o.laterality === s.laterality && o.view === partner);
  return (studyKey, x) => {
    if (tolerance <= 0 || !other?.studies.some((st) => st.studyKey === studyKey)) return undefined;
    return other.tracks.some((t) => t.points.some((p) => p.studyKey === studyKey && Math.abs(p.x - x) <= tolerance));
  };
}

function appearanceConditions(
  patientKey: string,
  s: TimelineSeries,
  policy: ChangePolicy,
  crossView: CrossView,
): AlertCondition[] {
  const out: AlertCondition[] = [];
  const where = `${SIDE[s.laterality]} ${s.view}`;
  const partner = PARTNER_VIEW[s.view] ?? 'other';
  const studyIndex = new Map(s.studies.map((st, k) => [st.resultId, k]));
  for (const track of s.tracks) {
    const first = track.points[0] as TrackPoint;
    const last = track.points[track.points.length - 1] as TrackPoint;
    const k = studyIndex.get(first.resultId) ?? 0;
    const previous = s.studies[k - 1];
    if (previous && first.score >= policy.newFindingMinScore && first.diameterMm >= policy.newFindingMinMm) {
      const severity: AlertSeverity = first.score >= (policy.category.thresholds[2] ?? 0.8) ? 'critical' : 'warning';
      const seen = crossView(first.studyKey, first.x);
      out.push({
        alertKey: `new-finding:${first.resultId}:${first.findingIndex}`,
        kind: 'new-finding',
        severity: seen === false ? LOWER[severity] : severity,
        patientKey,
        laterality: s.laterality,
        view: s.view,
        studyKey: first.studyKey,
        studyDate: first.studyDate,
        trackId: track.trackId,
        reason:
          `${where}: new finding at ${at(first)}, ${first.diameterMm.toFixed(1)} mm, score ${first.score.toFixed(2)}, ` +
          `not seen on ${previous.studyDate}` +
          (seen === true ? `; also seen in the ${partner} view` : seen === false ? `; not seen in the ${partner} view` : ''),
        figures: {
          diameterMm: round(first.diameterMm, 2),
          score: round(first.score, 3),
          ...(seen === undefined ? {} : { seenInOtherView: seen ? 1 : 0 }),
        },
      });
    }
    const afterLast = s.studies[(studyIndex.get(last.resultId) ?? 0) + 1];
    if (afterLast && track.points.length >= policy.resolvedMinSightings) {
      // The other view still showing something there at that study points to a miss in this view.
      const stillSeen = crossView(afterLast.studyKey, last.x);
      out.push({
        alertKey: `resolved-finding:${last.resultId}:${last.findingIndex}`,
        kind: 'resolved-finding',
        severity: 'info',
        patientKey,
        laterality: s.laterality,
        view: s.view,
        studyKey: afterLast.studyKey,
        studyDate: afterLast.studyDate,
        trackId: track.trackId,
        reason:
          `${where}: finding at ${at(last)} (${last.diameterMm.toFixed(1)} mm on ${last.studyDate}) ` +
          `is not seen on ${afterLast.studyDate}` +
          (stillSeen === true
            ? `; the ${partner} view still shows a finding there (possibly missed in this view)`
            : stillSeen === false
              ? `; nor in the ${partner} view`
              : ''),
        figures: {
          lastDiameterMm: round(last.diameterMm, 2),
          ...(stillSeen === undefined ? {} : { seenInOtherView: stillSeen ? 1 : 0 }),
        },
      });
    }
  }
  return out;
}

function scoreConditions(patientKey: string, s: TimelineSeries, policy: ChangePolicy): AlertCondition[] {
  const out: AlertCondition[] = [];
  const where = `${SIDE[s.laterality]} ${s.view}`;
  for (let k = 1; k < s.studies.length; k++) {
    const a = s.studies[k - 1] as TimelineSeries['studies'][number];
    const b = s.studies[k] as TimelineSeries['studies'][number];
    const base = {
      patientKey,
      laterality: s.laterality,
      view: s.view,
      studyKey: b.studyKey,
      studyDate: b.studyDate,
      trackId: null,
    };
    if (b.score - a.score >= policy.scoreRise) {
      out.push({
        ...base,
        alertKey: `score-rise:${b.resultId}`,
        kind: 'score-rise',
        severity: 'warning',
        reason: `${where}: image score rose ${a.score.toFixed(2)} → ${b.score.toFixed(2)} since ${a.studyDate}`,
        figures: { fromScore: round(a.score, 3), toScore: round(b.score, 3) },
      });
    }
    if (b.category > a.category && b.category >= 3) {
      out.push({
        ...base,
        alertKey: `category-upgrade:${b.resultId}`,
        kind: 'category-upgrade',
        severity: b.category >= 4 ? 'critical' : 'warning',
        reason: `${where}: ${categoryLabel(a.category)} on ${a.studyDate} → ${categoryLabel(b.category)}`,
        figures: { fromCategory: a.category, toCategory: b.category },
      });
    }
  }
  return out;
}

/** Every change the timeline shows: growth, new and resolved findings, score rises, category upgrades. */
export function changeConditions(timeline: PatientTimeline, policy: ChangePolicy = DEFAULT_CHANGE_POLICY): AlertCondition[] {
  return timeline.series.flatMap((s) => [
    ...growthConditions(timeline.patientKey, s, policy),
    ...appearanceConditions(timeline.patientKey, s, policy, crossViewOf(timeline, s, policy.crossViewTolerance)),
    ...scoreConditions(timeline.patientKey, s, policy),
  ]);
}
