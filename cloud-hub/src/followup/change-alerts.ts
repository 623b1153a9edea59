import { type CategoryPolicy, categoryLabel, DEFAULT_CATEGORY_POLICY } from './category.js';
import type {
  AlertCondition,
  AlertSeverity,
  PatientTimeline,
  SeriesStudy,
  TimelineSeries,
  TrackPoint,
} from './followup-types.js';
import { monthsBetween } from './study-dates.js';

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

const SIDE = { L: 'Left', R: 'Right', U: 'Unknown side' } as const;
const PARTNER_VIEW: Record<string, string> = { CC: 'MLO', MLO: 'CC' };

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

/** How many SDs of measurement error a change from d1 to d2 is. */
export function growthInSds(d1: number, d2: number, policy: ChangePolicy): number {
  const sd = (d: number) => policy.measurementSdMm + policy.measurementSdFraction * d;
  return (d2 - d1) / Math.hypot(sd(d1), sd(d2));
}

/** A change seen in one view, before the two views of a breast are put together. */
interface ViewChange {
  series: TimelineSeries;
  /** The point the alert is keyed on (the later one for growth, the first or last sighting otherwise). */
  point: TrackPoint;
  condition: AlertCondition;
  /** Evidence strong enough for the inbox from this view alone. */
  strong: boolean;
}

/** The two views of one breast and what each shows, for corroboration across views. */
class Breast {
  private readonly byView = new Map<string, TimelineSeries>();
  private readonly studyOf = new Map<string, SeriesStudy>();

  constructor(
    series: readonly TimelineSeries[],
    private readonly policy: ChangePolicy,
  ) {
    for (const s of series) {
      this.byView.set(s.view, s);
      for (const st of s.studies) this.studyOf.set(st.resultId, st);
    }
  }

  partnerOf(s: TimelineSeries): TimelineSeries | undefined {
    const view = PARTNER_VIEW[s.view];
    return view ? this.byView.get(view) : undefined;
  }

  study(resultId: string): SeriesStudy | undefined {
    return this.studyOf.get(resultId);
  }

  /** Whether two points, in two views of this breast, can be the same lesion. */
  sameLesion(a: TrackPoint, b: TrackPoint): boolean {
    const widthMm = this.study(a.resultId)?.imageWidthMm ?? 240;
    const tolerance = this.policy.crossViewTolerance + Math.max(a.diameterMm, b.diameterMm) / 4 / widthMm;
    const ratio = Math.max(a.diameterMm, b.diameterMm) / Math.max(0.1, Math.min(a.diameterMm, b.diameterMm));
    return Math.abs(a.x - b.x) <= tolerance && ratio <= this.policy.crossViewMaxSizeRatio;
  }

  /** The other view's finding at this study that is this lesion: undefined if none, null if that view was not imaged. */
  inOtherView(s: TimelineSeries, studyKey: string, p: TrackPoint): TrackPoint | null | undefined {
    const other = this.partnerOf(s);
    if (this.policy.crossViewTolerance <= 0 || !other?.studies.some((st) => st.studyKey === studyKey)) return null;
    let best: TrackPoint | undefined;
    for (const t of other.tracks)
      for (const q of t.points)
        if (q.studyKey === studyKey && this.sameLesion(p, q) && (!best || Math.abs(q.x - p.x) < Math.abs(best.x - p.x))) best = q;
    return best;
  }

  /**
   * What the other view shows of a lesion at a study: it was not imaged, the lesion is absent there,
   * or it shows it. (Whether the other view also measured growth is not asked: the model under-measures
   * some large masses in one view, and a growth contradicted that way was still real more often than not.)
   */
  otherViewShows(s: TimelineSeries, b: TrackPoint): 'not-imaged' | 'absent' | 'shows' {
    const ob = this.inOtherView(s, b.studyKey, b);
    return ob === null ? 'not-imaged' : ob === undefined ? 'absent' : 'shows';
  }

  /**
   * An earlier sighting of this lesion: in this view, an earlier finding at about the same place (a
   * detection missed for longer than tracking bridges); in the other view, an earlier point on the
   * track of the finding that corroborates it there (that view followed the lesion all along).
   */
  seenBefore(s: TimelineSeries, p: TrackPoint, other: TrackPoint | null | undefined): TrackPoint | undefined {
    const widthMm = this.study(p.resultId)?.imageWidthMm ?? 240;
    for (const t of s.tracks) {
      // A track that goes on to this study is another lesion, followed all along.
      if (t.points.some((q) => q.studyDate >= p.studyDate)) continue;
      for (const q of t.points) {
        const tolerance = this.policy.samePlaceTolerance + Math.max(p.diameterMm, q.diameterMm) / 2 / widthMm;
        if (Math.hypot(q.x - p.x, q.y - p.y) <= tolerance) return q;
      }
    }
    if (!other) return undefined;
    const track = this.partnerOf(s)?.tracks.find((t) => t.points.includes(other));
    return track?.points.find((q) => q.studyDate < p.studyDate);
  }
}

function growthChanges(patientKey: string, s: TimelineSeries, policy: ChangePolicy, breast: Breast): ViewChange[] {
  const out: ViewChange[] = [];
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
      const sds = growthInSds(a.diameterMm, b.diameterMm, policy);
      out.push({
        series: s,
        point: b,
        // One view's growth alone reaches the inbox when it is well past measurement error and the
        // other view shows the lesion too (or was not imaged); both views growing always does.
        // Without the other view the growth is "to review": letting it in from 3 SDs raised clear-growth
        // recall in the inbox from 0.69–0.87 to 0.83–0.95 but cut precision to 0.82–0.95 (ADR 0024).
        strong: sds >= policy.growthMinSd && breast.otherViewShows(s, b) !== 'absent',
        condition: {
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
            growthSds: round(sds, 2),
          },
        },
      });
    }
  }
  return out;
}

function appearanceChanges(patientKey: string, s: TimelineSeries, policy: ChangePolicy, breast: Breast): ViewChange[] {
  const out: ViewChange[] = [];
  const where = `${SIDE[s.laterality]} ${s.view}`;
  const partner = PARTNER_VIEW[s.view] ?? 'other';
  const studyIndex = new Map(s.studies.map((st, k) => [st.resultId, k]));
  for (const track of s.tracks) {
    const first = track.points[0] as TrackPoint;
    const last = track.points[track.points.length - 1] as TrackPoint;
    const previous = s.studies[(studyIndex.get(first.resultId) ?? 0) - 1];
    if (previous && first.score >= policy.newFindingMinScore && first.diameterMm >= policy.newFindingMinMm) {
      const other = breast.inOtherView(s, first.studyKey, first);
      const before = policy.crossViewTolerance > 0 ? breast.seenBefore(s, first, other) : undefined;
      const checked = policy.crossViewTolerance > 0;
      out.push({
        series: s,
        point: first,
        strong: !checked || (other != null && !before),
        condition: {
          alertKey: `new-finding:${first.resultId}:${first.findingIndex}`,
          kind: 'new-finding',
          severity: first.score >= (policy.category.thresholds[2] ?? 0.8) ? 'critical' : 'warning',
          patientKey,
          laterality: s.laterality,
          view: s.view,
          studyKey: first.studyKey,
          studyDate: first.studyDate,
          trackId: track.trackId,
          reason:
            `${where}: new finding at ${at(first)}, ${first.diameterMm.toFixed(1)} mm, score ${first.score.toFixed(2)}, ` +
            `not seen on ${previous.studyDate}` +
            (other ? `; also seen in the ${partner} view (${other.diameterMm.toFixed(1)} mm)` : '') +
            (other === undefined ? `; not seen in the ${partner} view` : '') +
            (other === null && checked ? `; the ${partner} view is not in yet` : '') +
            (before ? `; a finding was seen there on ${before.studyDate} (missed in between?)` : ''),
          figures: {
            diameterMm: round(first.diameterMm, 2),
            score: round(first.score, 3),
            ...(other === null ? {} : { seenInOtherView: other ? 1 : 0 }),
            ...(checked ? { seenBefore: before ? 1 : 0 } : {}),
          },
        },
      });
    }
    const afterLast = s.studies[(studyIndex.get(last.resultId) ?? 0) + 1];
    if (afterLast && track.points.length >= policy.resolvedMinSightings) {
      // The other view still showing it at that study points to a miss in this view: no alert.
      const stillSeen = breast.inOtherView(s, afterLast.studyKey, last);
      if (stillSeen) continue;
      out.push({
        series: s,
        point: last,
        strong: false,
        condition: {
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
            (stillSeen === undefined ? `; nor in the ${partner} view` : ''),
          figures: {
            lastDiameterMm: round(last.diameterMm, 2),
            ...(stillSeen === null ? {} : { seenInOtherView: 0 }),
          },
        },
      });
    }
  }
  return out;
}

const LEVEL_ORDER: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 };

/**
 * One alert per lesion and change: a change both views show is one alert (keyed on the view whose
 * result arrived first, so the key does not move as the second view comes in), saying what the other
 * view measured. It reaches the inbox when either view's evidence is strong or both views show it
 * (growth), or as its own rule says (new findings); otherwise it is "to review".
 */
function combineViews(changes: ViewChange[], breast: Breast): AlertCondition[] {
  const out: AlertCondition[] = [];
  const used = new Set<ViewChange>();
  const arrival = (c: ViewChange) => breast.study(c.point.resultId)?.createdAt ?? '';
  const sorted = [...changes].sort(
    (a, b) => arrival(a).localeCompare(arrival(b)) || (a.series.view === 'CC' ? -1 : 1) - (b.series.view === 'CC' ? -1 : 1),
  );
  for (const c of sorted) {
    if (used.has(c)) continue;
    used.add(c);
    const twin = sorted.find(
      (o) =>
        !used.has(o) &&
        o.series !== c.series &&
        o.condition.kind === c.condition.kind &&
        o.condition.studyKey === c.condition.studyKey &&
        breast.sameLesion(c.point, o.point),
    );
    if (twin) used.add(twin);
    const condition = { ...c.condition, figures: { ...c.condition.figures } };
    let inbox = c.strong || twin?.strong === true;
    if (twin) {
      condition.figures.views = 2;
      if (condition.kind === 'growth') {
        inbox = true; // both views measured it growing
        condition.reason += `; ${twin.series.view} view: ${twin.condition.figures.fromMm?.toFixed(1)} → ${twin.condition.figures.toMm?.toFixed(1)} mm`;
        if (LEVEL_ORDER[twin.condition.severity] > LEVEL_ORDER[condition.severity]) condition.severity = twin.condition.severity;
      }
    }
    if (!inbox) condition.severity = 'info';
    out.push(condition);
  }
  return out;
}

/**
 * Image-level change per breast and study: the breast's score is the highest of its views. The score
 * says nothing about which lesion changed, so it reaches the inbox only when an inbox alert about a
 * lesion of that breast at that study (growth, new finding) explains it; otherwise it is "to review".
 * Keyed on the breast's first-arrived result at that study.
 */
function breastConditions(
  patientKey: string,
  series: readonly TimelineSeries[],
  policy: ChangePolicy,
  lesionAlerts: readonly AlertCondition[],
): AlertCondition[] {
  const out: AlertCondition[] = [];
  const laterality = series[0]?.laterality ?? 'U';
  const byStudy = new Map<string, { studyKey: string; studyDate: string; views: Map<string, SeriesStudy> }>();
  for (const s of series)
    for (const st of s.studies) {
      const entry = byStudy.get(st.studyKey) ?? { studyKey: st.studyKey, studyDate: st.studyDate, views: new Map() };
      entry.views.set(s.view, st);
      byStudy.set(st.studyKey, entry);
    }
  const studies = [...byStudy.values()].sort(
    (a, b) => a.studyDate.localeCompare(b.studyDate) || a.studyKey.localeCompare(b.studyKey),
  );
  const where = `${SIDE[laterality]} breast`;
  for (let k = 1; k < studies.length; k++) {
    const a = studies[k - 1] as (typeof studies)[number];
    const b = studies[k] as (typeof studies)[number];
    const highest = (st: typeof a) => [...st.views.values()].reduce((m, v) => (v.score > m.score ? v : m));
    const top = { a: highest(a), b: highest(b) };
    const key = [...b.views.values()].sort(
      (x, y) => x.createdAt.localeCompare(y.createdAt) || x.resultId.localeCompare(y.resultId),
    )[0];
    if (!key) continue;
    const explanation = lesionAlerts.find(
      (l) => l.studyKey === b.studyKey && l.severity !== 'info' && (l.kind === 'growth' || l.kind === 'new-finding'),
    );
    const inbox = explanation !== undefined;
    const why = explanation
      ? `; explained by the ${explanation.kind === 'growth' ? 'growth' : 'new finding'} in the ${explanation.view} view`
      : '; no growing or new finding in the inbox explains it';
    const base = {
      patientKey,
      laterality,
      view: null,
      studyKey: b.studyKey,
      studyDate: b.studyDate,
      trackId: null,
    };
    if (top.b.score - top.a.score >= policy.scoreRise) {
      out.push({
        ...base,
        alertKey: `score-rise:${key.resultId}`,
        kind: 'score-rise',
        severity: inbox ? 'warning' : 'info',
        reason: `${where}: image score rose ${top.a.score.toFixed(2)} → ${top.b.score.toFixed(2)} since ${a.studyDate}${why}`,
        figures: { fromScore: round(top.a.score, 3), toScore: round(top.b.score, 3) },
      });
    }
    if (top.b.category > top.a.category && top.b.category >= 3) {
      out.push({
        ...base,
        alertKey: `category-upgrade:${key.resultId}`,
        kind: 'category-upgrade',
        severity: inbox ? (top.b.category >= 4 ? 'critical' : 'warning') : 'info',
        reason: `${where}: ${categoryLabel(top.a.category)} on ${a.studyDate} → ${categoryLabel(top.b.category)}${why}`,
        figures: { fromCategory: top.a.category, toCategory: top.b.category },
      });
    }
  }
  return out;
}

/**
 * Every change the timeline shows, one alert per lesion (both views together) and per breast:
 * growth, new and resolved findings, score rises, category upgrades; each either for the inbox
 * (warning, critical) or "to review" (info).
 */
export function changeConditions(timeline: PatientTimeline, policy: ChangePolicy = DEFAULT_CHANGE_POLICY): AlertCondition[] {
  const out: AlertCondition[] = [];
  for (const laterality of ['L', 'R', 'U'] as const) {
    const series = timeline.series.filter((s) => s.laterality === laterality);
    if (series.length === 0) continue;
    const breast = new Breast(series, policy);
    const changes = series.flatMap((s) => [
      ...growthChanges(timeline.patientKey, s, policy, breast),
      ...appearanceChanges(timeline.patientKey, s, policy, breast),
    ]);
    const lesionAlerts = combineViews(changes, breast);
    out.push(...lesionAlerts, ...breastConditions(timeline.patientKey, series, policy, lesionAlerts));
  }
  return out;
}
