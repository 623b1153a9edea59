const DAY_MS = 86_400_000;
/** Average Gregorian month, as radiology reports count intervals. */
export const DAYS_PER_MONTH = 30.4375;

export function dateMs(isoDate: string): number {
  return Date.parse(`${isoDate.slice(0, 10)}T00:00:00Z`);
}

export function monthsBetween(from: string, to: string): number {
  return (dateMs(to) - dateMs(from)) / DAY_MS / DAYS_PER_MONTH;
}

/** Calendar months (Jan 31 + 1 month = Feb 28/29), as a recall letter would count them. */
export function addMonths(isoDate: string, months: number): string {
  const d = new Date(dateMs(isoDate));
  const day = d.getUTCDate();
  d.setUTCDate(1);
  d.setUTCMonth(d.getUTCMonth() + Math.round(months));
  const lastDay = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 0)).getUTCDate();
  d.setUTCDate(Math.min(day, lastDay));
  return d.toISOString().slice(0, 10);
}

export function daysBetween(from: string, to: string): number {
  return Math.round((dateMs(to) - dateMs(from)) / DAY_MS);
}
