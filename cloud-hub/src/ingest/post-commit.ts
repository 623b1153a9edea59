import type { ResultMessage } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import { patientsTouched } from '../followup/followup-policy.js';
import type { IngestBatch } from './ingest-store.js';
import type { RejectedResult } from './receipts.js';

/**
 * What follows a committed ingest batch, in order: the devices get their acknowledgements and receipts
 * (only now: acknowledge-after-commit), follow-up learns which patients changed, and dashboards hear
 * about new results and device status.
 */
export function postCommitFanOut(o: {
  confirm: (results: readonly ResultMessage[], rejected: readonly RejectedResult[]) => void;
  notePatients: (patients: Set<string>) => void;
  events: Pick<HubEvents, 'emit'>;
}): (batch: IngestBatch, rejected: RejectedResult[]) => void {
  return (batch, rejected) => {
    o.confirm(batch.results, rejected);
    const patients = patientsTouched(batch.results);
    if (patients.size > 0) o.notePatients(patients);
    if (batch.results.length > 0) {
      const clinicIds = [...new Set(batch.results.map((r) => r.clinicId))];
      o.events.emit({ type: 'results', count: batch.results.length, clinicIds });
    }
    for (const s of batch.statuses)
      o.events.emit({ type: 'device', deviceId: s.deviceId, clinicId: s.clinicId, status: s.state });
  };
}
