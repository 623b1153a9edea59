import { type CategoryPolicy, categoryFromScore, DEFAULT_CATEGORY_POLICY } from './category.js';
import { DEFAULT_MATCH_POLICY, type MatchPolicy, matchFindings } from './finding-match.js';
import type {
  FindingTrack,
  FollowupObservation,
  PatientTimeline,
  SeriesStudy,
  TimelineSeries,
  TrackPoint,
} from './followup-types.js';

export interface TimelinePolicy {
  match: MatchPolicy;
  category: CategoryPolicy;
  /** A lesion the model missed in this many consecutive studies may still continue its track. */
  missedStudies: number;
  /** Images showing less tissue than this take no part in tracking, categories or due dates. */
  minTissueFraction: number;
}

export const DEFAULT_TIMELINE_POLICY: TimelinePolicy = {
  match: DEFAULT_MATCH_POLICY,
  category: DEFAULT_CATEGORY_POLICY,
  missedStudies: 1,
  minTissueFraction: 0.05,
};

function byTime(a: { studyDate: string; studyKey: string }, b: { studyDate: string; studyKey: string }): number {
  return a.studyDate.localeCompare(b.studyDate) || a.studyKey.localeCompare(b.studyKey);
}

/** One image per study in a series: a repeated acquisition replaces the earlier one. */
function latestPerStudy(observations: readonly FollowupObservation[]): FollowupObservation[] {
  const byStudy = new Map<string, FollowupObservation>();
  for (const o of observations) {
    const seen = byStudy.get(o.studyKey);
    if (!seen || o.createdAt > seen.createdAt || (o.createdAt === seen.createdAt && o.resultId > seen.resultId)) {
      byStudy.set(o.studyKey, o);
    }
  }
  return [...byStudy.values()].sort(byTime);
}

function buildSeries(
  laterality: TimelineSeries['laterality'],
  view: string,
  observations: readonly FollowupObservation[],
  policy: TimelinePolicy,
): TimelineSeries {
  const tracks: FindingTrack[] = [];
  const lastStudyIndex = new Map<FindingTrack, number>();
  const studies: SeriesStudy[] = latestPerStudy(observations).map((o, k) => {
    const alive = tracks.filter((t) => (lastStudyIndex.get(t) ?? -99) >= k - 1 - policy.missedStudies);
    const last = alive.map((t) => t.points[t.points.length - 1] as TrackPoint);
    const match = matchFindings(last, o.findings, o.imageWidthMm, policy.match);
    const trackIds = o.findings.map((f, i) => {
      const point: TrackPoint = {
        resultId: o.resultId,
        findingIndex: i,
        studyKey: o.studyKey,
        studyDate: o.studyDate,
        x: f.x,
        y: f.y,
        diameterMm: f.diameterMm,
        score: f.score,
      };
      const matched = match[i] ?? -1;
      let track = matched >= 0 ? alive[matched] : undefined;
      if (!track) {
        track = { trackId: `${laterality}${view}-${o.resultId.slice(0, 12)}-${i}`, points: [] };
        tracks.push(track);
      }
      track.points.push(point);
      lastStudyIndex.set(track, k);
      return track.trackId;
    });
    return {
      studyKey: o.studyKey,
      studyDate: o.studyDate,
      resultId: o.resultId,
      clinicId: o.clinicId,
      deviceId: o.deviceId,
      score: o.score,
      category: categoryFromScore(o.score, policy.category),
      createdAt: o.createdAt,
      imageWidthMm: o.imageWidthMm,
      trackIds,
    };
  });
  return { laterality, view, studies, tracks };
}

/** A patient's follow-up timeline: per laterality × view, studies in date order and lesion tracks. */
export function buildPatientTimeline(
  patientKey: string,
  observations: readonly FollowupObservation[],
  policy: TimelinePolicy = DEFAULT_TIMELINE_POLICY,
): PatientTimeline {
  const groups = new Map<string, FollowupObservation[]>();
  const blank = new Map<string, FollowupObservation>();
  for (const o of observations) {
    if (o.patientKey !== patientKey) continue;
    // A blank or empty exposure says nothing about the breast: no "no longer seen", no category 1.
    if (o.tissueFraction !== undefined && o.tissueFraction < policy.minTissueFraction) {
      blank.set(o.studyKey, o);
      continue;
    }
    const key = `${o.laterality}|${o.view}`;
    const list = groups.get(key) ?? [];
    list.push(o);
    groups.set(key, list);
  }
  const series = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([key, list]) => {
      const [laterality, view] = key.split('|') as [TimelineSeries['laterality'], string];
      return buildSeries(laterality, view, list, policy);
    });
  const studies = new Map<string, PatientTimeline['studies'][number]>();
  for (const s of series) {
    for (const st of s.studies) {
      const seen = studies.get(st.studyKey);
      studies.set(st.studyKey, {
        studyKey: st.studyKey,
        studyDate: st.studyDate,
        // The evidence behind the study's category: the image (and so device) that set it.
        ...(seen && seen.category >= st.category
          ? { clinicId: seen.clinicId, deviceId: seen.deviceId }
          : { clinicId: st.clinicId, deviceId: st.deviceId }),
        category: Math.max(seen?.category ?? 0, st.category),
        score: Math.max(seen?.score ?? 0, st.score),
        analysable: true,
      });
    }
  }
  for (const o of blank.values()) {
    if (!studies.has(o.studyKey)) {
      studies.set(o.studyKey, {
        studyKey: o.studyKey,
        studyDate: o.studyDate,
        clinicId: o.clinicId,
        deviceId: o.deviceId,
        category: 0,
        score: 0,
        analysable: false,
      });
    }
  }
  return { patientKey, series, studies: [...studies.values()].sort(byTime) };
}
