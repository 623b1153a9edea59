import { EventEmitter } from 'node:events';
import type { AlertRecord } from '../followup/followup-store.js';
import type { EventRelay } from './event-relay.js';

/** What the dashboard's live stream carries. Payloads are summaries, never full patient data. */
export type HubEvent =
  | {
      type: 'alert';
      /** `clinicId`: the clinic whose evidence raised it, which decides who may see the event. */
      alert: Pick<AlertRecord, 'alertKey' | 'kind' | 'severity' | 'status' | 'patientKey' | 'clinicId'>;
    }
  | { type: 'results'; count: number; clinicIds: string[] }
  | { type: 'device'; deviceId: string; clinicId: string; status: string }
  | { type: 'rollout'; rolloutId: string; state: string; currentWave: number; reason: string | null }
  | { type: 'ops-alert'; alertKey: string; severity: string; clinicId: string | null; summary: string }
  /** A patient's study was filed from a clinic she had not been seen at (for review; grants nothing). */
  | { type: 'cross-clinic'; patientKey: string; clinicIds: string[]; added: string[] };

/**
 * Fan-out of hub events to live API streams (SSE): in process, and to the other replicas through a
 * relay when there is one.
 */
export class HubEvents {
  private readonly emitter = new EventEmitter();
  private readonly local = new EventEmitter();
  private relay: EventRelay | undefined;
  private relayFailed: ((error: Error) => void) | undefined;

  constructor() {
    // Every open dashboard holds one listener.
    this.emitter.setMaxListeners(0);
  }

  /** Connects this hub's events with the other replicas'. */
  async attach(relay: EventRelay, onError: (error: Error) => void): Promise<void> {
    await relay.start((event) => this.emitter.emit('event', event));
    this.relay = relay;
    this.relayFailed = onError;
  }

  async detach(): Promise<void> {
    const relay = this.relay;
    this.relay = undefined;
    await relay?.close();
  }

  emit(event: HubEvent): void {
    this.emitter.emit('event', event);
    this.local.emit('event', event);
    this.relay?.publish(event).catch((error: Error) => this.relayFailed?.(error));
  }

  /** Events raised on this replica only (not those relayed from others): for work done once. */
  subscribeLocal(listener: (event: HubEvent) => void): () => void {
    this.local.on('event', listener);
    return () => this.local.off('event', listener);
  }

  subscribe(listener: (event: HubEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
