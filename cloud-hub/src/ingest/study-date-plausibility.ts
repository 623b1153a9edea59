import { VigilError } from '@vigil/shared';

/** Full-field digital mammography (and DICOM) postdate this: an earlier study date is a wrong clock or a forgery. */
export const EARLIEST_STUDY_DATE = '1985-01-01';
/** How far a study date may lie ahead of the hub's clock (time zones, skewed modality clocks). */
export const STUDY_DATE_SKEW_MS = 36 * 3_600_000;

/** Dates seen recently (a day's results share a few): parsing and re-printing each was 5 % of ingest's main thread. */
const calendarDates = new Map<string, number | undefined>();
const CALENDAR_DATES_KEPT = 4096;

/** The date's midnight UTC in ms when it is a real YYYY-MM-DD calendar date; undefined otherwise. */
function calendarDateMs(date: string): number | undefined {
  if (calendarDates.has(date)) return calendarDates.get(date);
  const at = Date.parse(`${date}T00:00:00Z`);
  const valid = Number.isFinite(at) && new Date(at).toISOString().slice(0, 10) === date ? at : undefined;
  if (calendarDates.size >= CALENDAR_DATES_KEPT) calendarDates.clear();
  calendarDates.set(date, valid);
  return valid;
}

/**
 * Refuses a study date no real examination can have, before it reaches follow-up: a date in the
 * future (beyond clock skew) would close overdue alerts and push due dates decades ahead; one before
 * the modality era, before the patient was born (from her age at the study) or that is not a calendar
 * date cannot be a study either. Pure: the caller passes the clock.
 */
export function assertPlausibleStudyDate(
  r: { studyDate: string; createdAt: string; patientAgeYears?: number },
  nowMs: number,
): void {
  const at = calendarDateMs(r.studyDate);
  const refuse = (why: string) => new VigilError('VIGIL_RESULT_IMPLAUSIBLE_DATE', `studyDate ${r.studyDate.slice(0, 10)} ${why}`);
  if (at === undefined) throw refuse('is not a calendar date');
  if (r.studyDate < EARLIEST_STUDY_DATE) throw refuse(`is before ${EARLIEST_STUDY_DATE} (before digital mammography)`);
  if (at > nowMs + STUDY_DATE_SKEW_MS) throw refuse("is in the future of the hub's clock");
  const created = Date.parse(r.createdAt);
  if (Number.isFinite(created) && at > created + STUDY_DATE_SKEW_MS) throw refuse('is after the result was created');
  if (r.patientAgeYears !== undefined && Number(r.studyDate.slice(0, 4)) - r.patientAgeYears < 1880) {
    throw refuse('puts the patient’s birth before 1880');
  }
}
