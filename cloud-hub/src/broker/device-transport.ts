import type { ResultMessage } from '@vigil/shared';
import type { RejectedResult } from '../ingest/receipts.js';

/**
 * How the hub talks to its devices: the embedded aedes broker, or a client of an external broker
 * (Mosquitto, EMQX, HiveMQ). The Hub composes one; nothing else in the hub depends on which.
 */
export interface DeviceTransport {
  /** `embedded` or `external`, for logs and readiness. */
  readonly kind: 'embedded' | 'external';
  /** Listening ports of an embedded broker (empty for an external one). */
  readonly ports: { plain?: number; tls?: number };
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Hub → device messages (model/desired), QoS 1. */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void>;
  /** Whether devices can reach the hub through it now (readiness). */
  ready(): boolean;
  /**
   * Tells devices which of their results a batch committed (or dead-lettered). Through an external
   * broker these are receipts on each device's `receipts` topic (the broker's PUBACK only says the
   * broker has a message); the embedded broker's PUBACK already follows the commit (ADR 0002), so
   * it sends (and computes) nothing.
   */
  confirm(results: readonly ResultMessage[], rejected: readonly RejectedResult[]): void;
  /** Drops a revoked device's live connection where the hub holds it (embedded broker). */
  disconnect(deviceId: string): void;
}
