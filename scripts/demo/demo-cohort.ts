import { type PlannedPatient, planCohort } from '../phantoms/cohort-plan.js';

const DAY_MS = 86_400_000;

function toDate(yyyymmdd: string): number {
  return Date.UTC(Number(yyyymmdd.slice(0, 4)), Number(yyyymmdd.slice(4, 6)) - 1, Number(yyyymmdd.slice(6, 8)));
}

function toYyyymmdd(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replaceAll('-', '');
}

/** Moves a patient's visits in time, keeping the intervals, so the last visit was `daysAgo` days ago. */
export function endVisitsDaysAgo(patient: PlannedPatient, daysAgo: number, now = Date.now()): PlannedPatient {
  const last = patient.visits[patient.visits.length - 1];
  if (!last) return patient;
  const today = Math.floor(now / DAY_MS) * DAY_MS;
  const shift = today - daysAgo * DAY_MS - toDate(last.studyDate);
  return { ...patient, visits: patient.visits.map((v) => ({ ...v, studyDate: toYyyymmdd(toDate(v.studyDate) + shift) })) };
}

/**
 * The demo's patients: phantoms with a growing mass of 10 mm or more (so follow-up has something
 * to follow), dated so that their last visit is recent — except every third patient (the first of
 * each three), whose last visit was over a year ago, so the overdue rule has someone to find.
 */
export function pickFollowupPatients(seed: number, count: number, visits: number): PlannedPatient[] {
  const candidates = planCohort(seed, count * 20, visits).filter((p) =>
    p.findings.some((f) => f.behaviour === 'growing' && f.type !== 'calcification-cluster' && f.baseDiameterMm >= 10),
  );
  // The overdue patient comes first at each clinic, so the rule has someone to find early in a run.
  return candidates.slice(0, count).map((p, i) => endVisitsDaysAgo(p, i % 3 === 0 ? 400 : 10 + 7 * i));
}
