import { ID_PATTERN, VigilError } from '@vigil/shared';

/**
 * Which clinics a user may see: a list of clinic ids, or null for the whole network. Routes turn it
 * into the `clinicScope` of their store queries (absent for the whole network), so the database
 * itself returns only what the user may see; nothing is filtered after the fact in the dashboard.
 */
export type ClinicAssignment = readonly string[] | null;

const CLINIC_ID = new RegExp(ID_PATTERN);

/** Checks and normalises an assignment (sorted, unique); null stays null. */
export function normaliseClinics(clinics: readonly string[] | null | undefined): string[] | null {
  if (clinics === null || clinics === undefined) return null;
  for (const c of clinics) {
    if (!CLINIC_ID.test(c)) throw new VigilError('VIGIL_API_INVALID_REQUEST', `clinic id ${JSON.stringify(c)} is not valid`);
  }
  return [...new Set(clinics)].sort();
}

/** The store filter for an assignment: absent for the whole network. */
export function scopeFilter(clinics: ClinicAssignment): { clinicScope?: readonly string[] } {
  return clinics === null ? {} : { clinicScope: clinics };
}

/** Whether a user with this assignment sees a patient (or device) seen at these clinics. */
export function seesAny(clinics: ClinicAssignment, seenAt: readonly string[]): boolean {
  return clinics === null || seenAt.some((c) => clinics.includes(c));
}
