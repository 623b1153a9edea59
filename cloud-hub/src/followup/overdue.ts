import { type CategoryPolicy, categoryLabel, DEFAULT_CATEGORY_POLICY, recommendedIntervalMonths } from './category.js';
import type { PatientSummary } from './followup-store.js';
import type { AlertCondition, PatientTimeline } from './followup-types.js';
import { addMonths, daysBetween } from './study-dates.js';

export interface OverduePolicy {
  category: CategoryPolicy;
  /** Days past the due date before a follow-up counts as missed (booking slack). */
  graceDays: number;
}

export const DEFAULT_OVERDUE_POLICY: OverduePolicy = { category: DEFAULT_CATEGORY_POLICY, graceDays: 30 };

export interface FollowupDue {
  lastStudyKey: string;
  lastStudyDate: string;
  category: number;
  intervalMonths: number;
  /** YYYY-MM-DD by which the next study is recommended. */
  dueDate: string;
}

/** The latest study that counts as a follow-up (one whose images show tissue). */
export function lastFollowupStudy(timeline: PatientTimeline): PatientTimeline['studies'][number] | undefined {
  return timeline.studies.findLast((s) => s.analysable);
}

/**
 * The patient's summary row from a timeline: first and last (follow-up) study, clinics, category and
 * due date. The same for the stored summary and for a clinic-scoped view built from one clinic's
 * studies; undefined for a timeline without studies.
 */
export function timelineSummary(
  patientKey: string,
  timeline: PatientTimeline,
  due: FollowupDue | null,
): Omit<PatientSummary, 'openAlerts' | 'updatedAt'> | undefined {
  const first = timeline.studies[0];
  // The last study that is a follow-up: a blank one does not lower the category or move the dates.
  const last = lastFollowupStudy(timeline) ?? timeline.studies.at(-1);
  if (!first || !last) return undefined;
  return {
    patientKey,
    clinicId: first.clinicId,
    clinicIds: [...new Set(timeline.studies.map((s) => s.clinicId))],
    firstStudyDate: first.studyDate,
    lastStudyDate: last.studyDate,
    lastStudyKey: last.studyKey,
    studies: timeline.studies.length,
    category: last.category,
    dueDate: due?.dueDate ?? null,
  };
}

/** When the next study is due, from the latest analysable study's (highest) model-derived category. */
export function followupDue(timeline: PatientTimeline, policy: OverduePolicy = DEFAULT_OVERDUE_POLICY): FollowupDue | null {
  const last = lastFollowupStudy(timeline);
  if (!last) return null;
  const intervalMonths = recommendedIntervalMonths(last.category, policy.category);
  return {
    lastStudyKey: last.studyKey,
    lastStudyDate: last.studyDate,
    category: last.category,
    intervalMonths,
    dueDate: addMonths(last.studyDate, intervalMonths),
  };
}

/** The overdue-follow-up condition on `today` (YYYY-MM-DD), or null while the patient is on time. */
export function overdueCondition(
  timeline: PatientTimeline,
  today: string,
  policy: OverduePolicy = DEFAULT_OVERDUE_POLICY,
): AlertCondition | null {
  const due = followupDue(timeline, policy);
  if (!due) return null;
  const late = daysBetween(due.dueDate, today);
  if (late <= policy.graceDays) return null;
  return {
    alertKey: `overdue:${timeline.patientKey}:${due.lastStudyKey}`,
    kind: 'overdue',
    severity: due.category >= 4 ? 'critical' : 'warning',
    patientKey: timeline.patientKey,
    laterality: null,
    view: null,
    studyKey: due.lastStudyKey,
    studyDate: due.lastStudyDate,
    trackId: null,
    reason:
      `Follow-up overdue: the study of ${due.lastStudyDate}, ${categoryLabel(due.category)}, recommended ` +
      `a follow-up within ${due.intervalMonths} month${due.intervalMonths === 1 ? '' : 's'}, due ${due.dueDate}; ` +
      `none received, ${late} days overdue`,
    figures: { category: due.category, intervalMonths: due.intervalMonths, daysOverdue: late },
  };
}
