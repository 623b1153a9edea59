import type { TrackPoint } from '../followup-types.js';
import { at, type LesionRule, PARTNER_VIEW, round, SIDE, type ViewChange } from './breast.js';

/**
 * A finding seen in enough studies that is gone at the next one: always "to review" (a detection
 * seen once and gone is most often the model's own false positive, ADR 0015), and nothing when the
 * other view still shows it (a miss in this view).
 */
export const resolvedFindingRule: LesionRule = {
  kind: 'resolved-finding',
  changes(patientKey, s, policy, breast) {
    const out: ViewChange[] = [];
    const where = `${SIDE[s.laterality]} ${s.view}`;
    const partner = PARTNER_VIEW[s.view] ?? 'other';
    const studyIndex = new Map(s.studies.map((st, k) => [st.resultId, k]));
    for (const track of s.tracks) {
      const last = track.points[track.points.length - 1] as TrackPoint;
      const afterLast = s.studies[(studyIndex.get(last.resultId) ?? 0) + 1];
      if (!afterLast || track.points.length < policy.resolvedMinSightings) continue;
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
    return out;
  },
};
