import type { TrackPoint } from '../followup-types.js';
import { at, type LesionRule, PARTNER_VIEW, round, SIDE, type ViewChange } from './breast.js';

/**
 * A finding not seen at the previous study, from a calibrated score. It reaches the inbox only when
 * the other view of the same study shows it and neither view showed it before (ADR 0015); otherwise
 * it is "to review".
 */
export const newFindingRule: LesionRule = {
  kind: 'new-finding',
  changes(patientKey, s, policy, breast) {
    const out: ViewChange[] = [];
    const where = `${SIDE[s.laterality]} ${s.view}`;
    const partner = PARTNER_VIEW[s.view] ?? 'other';
    const studyIndex = new Map(s.studies.map((st, k) => [st.resultId, k]));
    for (const track of s.tracks) {
      const first = track.points[0] as TrackPoint;
      const previous = s.studies[(studyIndex.get(first.resultId) ?? 0) - 1];
      if (!previous || first.score < policy.newFindingMinScore || first.diameterMm < policy.newFindingMinMm) continue;
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
    return out;
  },
};
