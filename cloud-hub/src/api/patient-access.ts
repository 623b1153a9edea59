import { VigilError } from '@vigil/shared';
import type { FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { seesAny } from '../auth/clinic-scope.js';
import type { FollowupStore } from '../followup/followup-store.js';
import type { ResultStore } from '../results/result-store.js';
import { actorOf, principalOf } from './request-auth.js';

/**
 * Clinic scope for routes that name one patient or one record: a clinic-scoped user may open a
 * patient with a study at one of their clinics, and sees of her only what their clinics' own devices
 * produced (the timeline is built from those results; another clinic's results, alerts and verdicts
 * stay closed even for a patient seen at both). A record (a result, an alert, a verdict) is judged
 * by its own clinic, never by the clinics its patient was seen at. Anything else answers 404 as if
 * it did not exist (so a scoped user cannot probe other clinics' pseudonyms), and the refusal is
 * audited. List routes pass the scope to their store queries instead.
 */
export class PatientAccess {
  constructor(
    private readonly followup: FollowupStore,
    private readonly state: Pick<ResultStore, 'queryResults'>,
    private readonly audit: AuditStore,
  ) {}

  /** Every clinic a patient was seen at, as far as the hub knows. */
  async clinicsOf(patientKey: string): Promise<string[]> {
    return (await this.followup.getPatient(patientKey))?.clinicIds ?? [];
  }

  /** Whether the caller may see the patient. */
  async allows(request: FastifyRequest, patientKey: string): Promise<boolean> {
    const { clinics } = principalOf(request);
    if (clinics === null) return true;
    if (seesAny(clinics, await this.clinicsOf(patientKey))) return true;
    // A result the follow-up engine has not filed under its patient yet.
    const page = await this.state.queryResults({ patientKey, clinicScope: clinics, limit: 1 });
    return page.items.length > 0;
  }

  /** Throws VIGIL_API_NOT_FOUND (audited as a denial) unless the caller may see the patient. */
  async require(request: FastifyRequest, patientKey: string, what: string): Promise<void> {
    if (await this.allows(request, patientKey)) return;
    await this.deny(request, patientKey, what);
  }

  /** Throws VIGIL_API_NOT_FOUND (audited) unless the caller may see records of the record's own clinic. */
  async requireRecord(request: FastifyRequest, clinicId: string, patientKey: string, what: string): Promise<void> {
    if (seesAny(principalOf(request).clinics, [clinicId])) return;
    await this.deny(request, patientKey, what);
  }

  private async deny(request: FastifyRequest, patientKey: string, what: string): Promise<never> {
    await this.audit.append({
      ...actorOf(request),
      action: 'access.denied',
      targetType: 'patient',
      targetId: patientKey,
      patientKey,
      outcome: 'failure',
      details: { reason: 'outside the user’s clinics', route: `${request.method} ${request.routeOptions.url ?? ''}` },
    });
    throw new VigilError('VIGIL_API_NOT_FOUND', `${what} does not exist`);
  }
}
