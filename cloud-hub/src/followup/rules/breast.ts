import type { AlertCondition, FindingTrack, SeriesStudy, TimelineSeries, TrackPoint } from '../followup-types.js';
import type { ChangePolicy } from './change-policy.js';

export const SIDE = { L: 'Left', R: 'Right', U: 'Unknown side' } as const;
export const PARTNER_VIEW: Record<string, string> = { CC: 'MLO', MLO: 'CC' };

export function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export function at(p: { x: number; y: number }): string {
  return `(${p.x.toFixed(2)}, ${p.y.toFixed(2)})`;
}

/** A change seen in one view, before the two views of a breast are put together. */
export interface ViewChange {
  series: TimelineSeries;
  /** The point the alert is keyed on (the later one for growth, the first or last sighting otherwise). */
  point: TrackPoint;
  condition: AlertCondition;
  /** Evidence strong enough for the inbox from this view alone. */
  strong: boolean;
}

/** The two views of one breast and what each shows, for corroboration across views. */
export class Breast {
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

  /** The track of the other view (of `s`'s breast) that `p`, a point in that view, lies on. */
  private otherViewTrackOf(s: TimelineSeries, p: TrackPoint): FindingTrack | undefined {
    return this.partnerOf(s)?.tracks.find((t) => t.points.includes(p));
  }

  /**
   * The lesion's largest diameter over the two views at the studies of `a` and `b` (two sightings
   * in one view): undefined unless the other view measured the lesion at both studies. The other
   * view's earlier sighting is the one on the track that view followed to its sighting at `b`, when
   * that track held steady (changed less than `growthMinMm`): a large mass this view under-measured
   * at `a` (a 6 mm fragment of 22) is not the same lesion by size, but the other view followed it
   * all along. Otherwise, the other view's finding at `a` that matches `a` by place and size
   * (ADR 0024, second addendum).
   */
  largestAcrossViews(s: TimelineSeries, a: TrackPoint, b: TrackPoint): { before: number; after: number } | undefined {
    const ob = this.inOtherView(s, b.studyKey, b);
    if (!ob) return undefined;
    const earlier = this.otherViewTrackOf(s, ob)?.points.find((q) => q.studyKey === a.studyKey);
    const steady = earlier && Math.abs(ob.diameterMm - earlier.diameterMm) < this.policy.growthMinMm;
    const oa = steady ? earlier : this.inOtherView(s, a.studyKey, a);
    if (!oa) return undefined;
    return { before: Math.max(a.diameterMm, oa.diameterMm), after: Math.max(b.diameterMm, ob.diameterMm) };
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
    return this.otherViewTrackOf(s, other)?.points.find((q) => q.studyDate < p.studyDate);
  }
}

/**
 * A rule about one lesion in one view (growth, a new or a resolved finding): its changes are put
 * together across the two views of the breast before they become alerts (`combineViews`).
 */
export interface LesionRule {
  kind: AlertCondition['kind'];
  changes(patientKey: string, series: TimelineSeries, policy: ChangePolicy, breast: Breast): ViewChange[];
}

/** A study of a breast: its views' results at that study. */
export interface BreastStudy {
  studyKey: string;
  studyDate: string;
  views: Map<string, SeriesStudy>;
}

/**
 * A rule about a whole breast between two consecutive studies (score rise, category upgrade), given
 * the inbox alerts about its lesions that could explain the change.
 */
export interface BreastRule {
  kind: AlertCondition['kind'];
  conditions(pair: BreastStudyPair, policy: ChangePolicy): AlertCondition[];
}

/** Two consecutive studies of one breast, with what the rules share about them. */
export interface BreastStudyPair {
  patientKey: string;
  laterality: TimelineSeries['laterality'];
  before: BreastStudy;
  after: BreastStudy;
  /** The view result with the highest score at each study (the breast's score). */
  top: { before: SeriesStudy; after: SeriesStudy };
  /** The breast's first-arrived result at the later study: what breast alerts are keyed on. */
  keyResultId: string;
  /** An inbox alert about a lesion at the later study (growth, new finding) that explains the change. */
  explanation: AlertCondition | undefined;
}

/** The reason's tail saying whether a lesion alert explains a breast-level change. */
export function explained(pair: BreastStudyPair): string {
  const e = pair.explanation;
  return e
    ? `; explained by the ${e.kind === 'growth' ? 'growth' : 'new finding'} in the ${e.view} view`
    : '; no growing or new finding in the inbox explains it';
}

/** What every breast-level alert of a pair carries. */
export function breastBase(pair: BreastStudyPair) {
  return {
    patientKey: pair.patientKey,
    laterality: pair.laterality,
    view: null,
    studyKey: pair.after.studyKey,
    studyDate: pair.after.studyDate,
    trackId: null,
  };
}
