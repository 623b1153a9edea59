import type { Logger } from '@vigil/shared';
import type { HubEvent, HubEvents } from '../events/hub-events.js';
import type { NewOpsAlert, OpsAlertStore } from './ops-alert-store.js';

type CrossClinic = Extract<HubEvent, { type: 'cross-clinic' }>;

/** The ops alert for a patient pseudonym now seen at another clinic too (pure; the key makes it idempotent). */
export function crossClinicAlert(e: CrossClinic): NewOpsAlert {
  return {
    alertKey: `cross-clinic:${e.patientKey}:${[...e.clinicIds].sort().join(',')}`,
    kind: 'cross-clinic-patient',
    severity: 'warning',
    // Network-wide: only users who see every clinic may judge whether it is one woman.
    clinicId: null,
    summary: `Patient ${e.patientKey} now has studies from ${e.clinicIds.join(', ')} (new: ${e.added.join(', ')}): each clinic sees only its own studies; check whether this is the same woman or a device reporting under another clinic's pseudonym`,
    details: { patientKey: e.patientKey, clinicIds: e.clinicIds, added: e.added },
  };
}

/**
 * A cross-clinic match is surfaced, never granted: when the follow-up engine files a patient's
 * study from a clinic she was not seen at before, an ops alert asks someone who sees the whole
 * network to review it. Clinic-scoped users keep seeing only their clinics' records either way.
 * Only the replica whose follow-up worker saw the change raises it (relayed copies are ignored).
 */
export class CrossClinicWatch {
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly o: { events: HubEvents; alerts: OpsAlertStore; logger: Logger }) {}

  start(): void {
    this.unsubscribe = this.o.events.subscribeLocal((event) => {
      if (event.type !== 'cross-clinic') return;
      this.o.alerts.raise([crossClinicAlert(event)]).then(
        (raised) => {
          for (const a of raised) {
            this.o.logger.warn(
              { alertKey: a.alertKey, patientKey: event.patientKey },
              'patient seen at another clinic: ops alert raised',
            );
            this.o.events.emit({
              type: 'ops-alert',
              alertKey: a.alertKey,
              severity: a.severity,
              clinicId: null,
              summary: a.summary,
            });
          }
        },
        (error: Error) =>
          this.o.logger.error({ code: 'VIGIL_STATE_STORE_UNAVAILABLE', err: error.message }, 'cross-clinic ops alert not stored'),
      );
    });
  }

  stop(): void {
    this.unsubscribe?.();
  }
}
