/**
 * How long the clinic edge keeps the images it shows clinicians. Pure: the store hands it what it
 * holds and deletes what it returns.
 *
 * - An image older than `maxAgeDays` (by study date) goes, unless its study is one of the patient's
 *   `keepStudies` latest: a follow-up reading compares this year's image with the priors, so the
 *   priors of a patient still in follow-up stay however old they are.
 * - Past `maxBytes`, the oldest studies go first, protected ones last; when even the protected
 *   studies do not fit, the oldest of those go too (a full disk would stop intake, which is worse)
 *   and the sweep says so (`overProtected`), for the log and the metric.
 */
export interface RetentionPolicy {
  maxAgeDays: number;
  maxBytes: number;
  /** Studies per patient kept whatever their age (the current one and its priors). */
  keepStudies: number;
}

export interface HeldImage {
  instanceKey: string;
  patientKey: string;
  studyKey: string;
  /** YYYY-MM-DD */
  studyDate: string;
  bytes: number;
}

export interface Sweep {
  evict: string[];
  /** True when the size limit took studies the age rule protects. */
  overProtected: boolean;
}

const DAY_MS = 86_400_000;

export function chooseEvictions(images: readonly HeldImage[], policy: RetentionPolicy, now: Date): Sweep {
  const studiesOf = new Map<string, Map<string, string>>();
  for (const i of images) {
    const studies = studiesOf.get(i.patientKey) ?? new Map<string, string>();
    studies.set(i.studyKey, i.studyDate);
    studiesOf.set(i.patientKey, studies);
  }
  const protectedStudies = new Set<string>();
  for (const studies of studiesOf.values()) {
    const latest = [...studies].sort((a, b) => b[1].localeCompare(a[1]) || b[0].localeCompare(a[0]));
    for (const [studyKey] of latest.slice(0, policy.keepStudies)) protectedStudies.add(studyKey);
  }
  const cutoff = new Date(now.getTime() - policy.maxAgeDays * DAY_MS).toISOString().slice(0, 10);
  const evict = new Set<string>();
  for (const i of images) if (i.studyDate < cutoff && !protectedStudies.has(i.studyKey)) evict.add(i.instanceKey);

  let held = images.reduce((sum, i) => sum + (evict.has(i.instanceKey) ? 0 : i.bytes), 0);
  let overProtected = false;
  if (held > policy.maxBytes) {
    // Unprotected before protected, oldest study first.
    const order = images
      .filter((i) => !evict.has(i.instanceKey))
      .sort(
        (a, b) =>
          Number(protectedStudies.has(a.studyKey)) - Number(protectedStudies.has(b.studyKey)) ||
          a.studyDate.localeCompare(b.studyDate) ||
          a.studyKey.localeCompare(b.studyKey) ||
          a.instanceKey.localeCompare(b.instanceKey),
      );
    for (const i of order) {
      if (held <= policy.maxBytes) break;
      evict.add(i.instanceKey);
      held -= i.bytes;
      if (protectedStudies.has(i.studyKey)) overProtected = true;
    }
  }
  return { evict: [...evict], overProtected };
}
