import { EventEmitter } from 'node:events';
import type { AlertRecord } from '../followup/followup-store.js';

/** What the dashboard's live stream carries. Payloads are summaries, never full patient data. */
export type HubEvent =
  | { type: 'alert'; alert: Pick<AlertRecord, 'alertKey' | 'kind' | 'severity' | 'status' | 'patientKey' | 'clinicId'> }
  | { type: 'results'; count: number; clinicIds: string[] }
  | { type: 'device'; deviceId: string; clinicId: string; status: string }
  | { type: 'rollout'; rolloutId: string; state: string; currentWave: number; reason: string | null };

/** In-process fan-out of hub events to live API streams (SSE). */
export class HubEvents {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open dashboard holds one listener.
    this.emitter.setMaxListeners(0);
  }

  emit(event: HubEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: HubEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
