import type { AlertCondition, AlertSeverity, PatientTimeline, TimelineSeries } from './followup-types.js';
import { Breast, type BreastStudy, type BreastStudyPair, type ViewChange } from './rules/breast.js';
import { type ChangePolicy, DEFAULT_CHANGE_POLICY } from './rules/change-policy.js';
import { BREAST_RULES, LESION_RULES } from './rules/index.js';

export { type ChangePolicy, DEFAULT_CHANGE_POLICY, growthInSds, volumeDoublingMonths } from './rules/change-policy.js';

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
 * Consecutive studies of one breast, each with what breast rules need: the highest-scoring view at
 * each, the result the alerts are keyed on, and the inbox lesion alert that explains a change.
 */
function studyPairs(
  patientKey: string,
  series: readonly TimelineSeries[],
  lesionAlerts: readonly AlertCondition[],
): BreastStudyPair[] {
  const laterality = series[0]?.laterality ?? 'U';
  const byStudy = new Map<string, BreastStudy>();
  for (const s of series)
    for (const st of s.studies) {
      const entry = byStudy.get(st.studyKey) ?? { studyKey: st.studyKey, studyDate: st.studyDate, views: new Map() };
      entry.views.set(s.view, st);
      byStudy.set(st.studyKey, entry);
    }
  const studies = [...byStudy.values()].sort(
    (a, b) => a.studyDate.localeCompare(b.studyDate) || a.studyKey.localeCompare(b.studyKey),
  );
  const highest = (st: BreastStudy) => [...st.views.values()].reduce((m, v) => (v.score > m.score ? v : m));
  const pairs: BreastStudyPair[] = [];
  for (let k = 1; k < studies.length; k++) {
    const before = studies[k - 1] as BreastStudy;
    const after = studies[k] as BreastStudy;
    const key = [...after.views.values()].sort(
      (x, y) => x.createdAt.localeCompare(y.createdAt) || x.resultId.localeCompare(y.resultId),
    )[0];
    if (!key) continue;
    pairs.push({
      patientKey,
      laterality,
      before,
      after,
      top: { before: highest(before), after: highest(after) },
      keyResultId: key.resultId,
      // The score says nothing about which lesion changed: an inbox lesion alert at that study explains it.
      explanation: lesionAlerts.find(
        (l) => l.studyKey === after.studyKey && l.severity !== 'info' && (l.kind === 'growth' || l.kind === 'new-finding'),
      ),
    });
  }
  return pairs;
}

/**
 * Every change the timeline shows, one alert per lesion (both views together) and per breast, from
 * the rule lists (`rules/index.ts`): each either for the inbox (warning, critical) or "to review" (info).
 */
export function changeConditions(timeline: PatientTimeline, policy: ChangePolicy = DEFAULT_CHANGE_POLICY): AlertCondition[] {
  const out: AlertCondition[] = [];
  for (const laterality of ['L', 'R', 'U'] as const) {
    const series = timeline.series.filter((s) => s.laterality === laterality);
    if (series.length === 0) continue;
    const breast = new Breast(series, policy);
    const changes = series.flatMap((s) => LESION_RULES.flatMap((rule) => rule.changes(timeline.patientKey, s, policy, breast)));
    const lesionAlerts = combineViews(changes, breast);
    out.push(...lesionAlerts);
    for (const pair of studyPairs(timeline.patientKey, series, lesionAlerts))
      out.push(...BREAST_RULES.flatMap((rule) => rule.conditions(pair, policy)));
  }
  return out;
}
