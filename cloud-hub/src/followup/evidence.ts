import type { AlertCondition, AttributedCondition, PatientTimeline } from './followup-types.js';

/**
 * Names the clinic and device whose result raised each condition: the result of the condition's
 * study in the condition's series (laterality × view), or for a patient-level condition (overdue) the
 * study itself. A patient's pseudonym is network-wide, so evidence from several clinics meets in one
 * timeline; every alert says whose evidence it rests on (ADR 0017). Pure.
 */
export function attributeConditions(timeline: PatientTimeline, conditions: readonly AlertCondition[]): AttributedCondition[] {
  return conditions.map((c) => {
    const series = timeline.series.find((s) => s.laterality === c.laterality && s.view === c.view);
    const source =
      series?.studies.find((st) => st.studyKey === c.studyKey) ?? timeline.studies.find((st) => st.studyKey === c.studyKey);
    return { ...c, clinicId: source?.clinicId ?? 'unknown', deviceId: source?.deviceId ?? 'unknown' };
  });
}
