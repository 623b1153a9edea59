import type { HubEvent } from '../events/hub-events.js';
import type { StateLocation } from '../state/state-store.js';
import type { FollowupPolicy } from './followup-service.js';

/** What the follow-up worker is started with. */
export interface FollowupWorkerData {
  /** Where the state is: the worker opens its own connection to it. */
  state: StateLocation;
  policy: FollowupPolicy;
  sweepIntervalMs: number;
  /** Whether overdue sweeps run here at start (see the 'sweeps' message). */
  sweeps: boolean;
  /** The hub logger's level, so the worker logs what the hub would. */
  logLevel: string;
}

/** Main thread → worker. */
export type ToFollowupWorker =
  | { type: 'note'; id: number; patientKeys: string[] }
  | { type: 'settle'; id: number }
  /** Whether this replica holds the sweep lease (overdue sweeps run on one replica only). */
  | { type: 'sweeps'; enabled: boolean }
  | { type: 'stop' };

/** Worker → main thread. */
export type FromFollowupWorker =
  | { type: 'event'; event: HubEvent }
  /** Every note up to this id has been recomputed (the worker's queue was empty). */
  | { type: 'caught-up'; upTo: number }
  | { type: 'settled'; id: number }
  | { type: 'stopped' };
