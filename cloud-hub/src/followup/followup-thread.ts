import { Worker } from 'node:worker_threads';
import { type Logger, workerEntry } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import type { StateLocation } from '../state/state-store.js';
import { type FollowupPolicy, type FollowupRunner, FollowupService } from './followup-service.js';
import type { FollowupStore } from './followup-store.js';
import type { FollowupWorkerData, FromFollowupWorker, ToFollowupWorker } from './followup-worker-protocol.js';

export interface FollowupThreadOptions {
  /** The state database the worker opens its own connection to. */
  /** Handed to the worker, which opens its own connection (engine and location, not a file path). */
  state: StateLocation;
  /** The main thread's store, for reads (timelines served by the API). */
  store: FollowupStore;
  logger: Logger;
  events: Pick<HubEvents, 'emit'>;
  policy: FollowupPolicy;
  sweepIntervalMs: number;
  /** Whether overdue sweeps run from the start (false when a lease decides, see `setSweeps`). */
  sweeps?: boolean;
  /** Delay before a worker that died is replaced (doubles per consecutive failure, up to 30 s). */
  restartDelayMs?: number;
  /** Called each time a replacement worker starts (for metrics). */
  onRestart?: () => void;
}

/**
 * The follow-up engine in a worker thread. Recomputing a patient (read the results, build the
 * timeline, save it with its alerts) costs about as much CPU as ingesting the patient's images; in
 * the hub's main thread it competed with the broker and ingest for the one event loop. The worker
 * has its own connection to the state database (WAL: its reads never block ingest, writes are
 * serialised by SQLite) and runs the same FollowupService, including the overdue sweeps, so every
 * follow-up write happens in one place. Timeline reads stay on the main thread.
 *
 * Notes are kept here until the worker reports them done; if the worker dies they are replayed to
 * its replacement, so a crash delays recomputation but never loses it.
 */
export class FollowupThread implements FollowupRunner {
  readonly policy: FollowupPolicy;
  private readonly reader: FollowupService;
  private worker: Worker | undefined;
  private nextId = 1;
  private readonly notes: { id: number; patientKeys: string[] }[] = [];
  private readonly settles = new Map<number, () => void>();
  private stopping = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  /** Workers that died and were replaced since start (for diagnostics and tests). */
  restarts = 0;
  private sweeps = true;

  constructor(private readonly o: FollowupThreadOptions) {
    this.policy = o.policy;
    this.reader = new FollowupService({ store: o.store, logger: o.logger, policy: o.policy });
    this.sweeps = o.sweeps ?? true;
  }

  start(): void {
    this.spawn();
  }

  private spawn(): void {
    const data: FollowupWorkerData = {
      state: this.o.state,
      policy: this.o.policy,
      sweepIntervalMs: this.o.sweepIntervalMs,
      sweeps: this.sweeps,
      logLevel: this.o.logger.level,
    };
    const worker = new Worker(workerEntry(import.meta.url, 'followup-worker-main'), { workerData: data });
    this.worker = worker;
    worker.on('message', (message: FromFollowupWorker) => this.received(message));
    worker.on('error', (error) =>
      this.o.logger.error({ code: 'VIGIL_FOLLOWUP_WORKER_FAILED', err: error.message }, 'follow-up worker failed'),
    );
    worker.once('exit', (exitCode) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      if (this.stopping) return;
      this.failures += 1;
      const delay = Math.min(30_000, (this.o.restartDelayMs ?? 1000) * 2 ** (this.failures - 1));
      this.o.logger.error(
        { code: 'VIGIL_FOLLOWUP_WORKER_FAILED', exitCode, pendingNotes: this.notes.length, restartInMs: delay },
        'follow-up worker stopped; replacing it and replaying its pending patients',
      );
      this.restartTimer = setTimeout(() => this.restart(), delay);
    });
    // Everything not yet confirmed goes to this worker (all of it, after a restart).
    for (const note of this.notes) this.send({ type: 'note', ...note });
    for (const id of this.settles.keys()) this.send({ type: 'settle', id });
  }

  /** Overdue sweeps run only where the sweep lease is held (one replica); recomputations run everywhere. */
  setSweeps(enabled: boolean): void {
    this.sweeps = enabled;
    this.send({ type: 'sweeps', enabled });
  }

  private restart(): void {
    this.restartTimer = undefined;
    if (this.stopping) return;
    this.restarts += 1;
    this.o.onRestart?.();
    this.spawn();
  }

  private send(message: ToFollowupWorker): void {
    this.worker?.postMessage(message);
  }

  private received(message: FromFollowupWorker): void {
    switch (message.type) {
      case 'event':
        this.o.events.emit(message.event);
        return;
      case 'caught-up': {
        this.failures = 0;
        let done = 0;
        while (done < this.notes.length && (this.notes[done]?.id ?? 0) <= message.upTo) done += 1;
        this.notes.splice(0, done);
        return;
      }
      case 'settled':
        this.settles.get(message.id)?.();
        this.settles.delete(message.id);
        return;
      default:
        return;
    }
  }

  /** Patients noted and not yet recomputed (counted per note, so a patient noted twice counts twice). */
  pendingPatients(): number {
    let n = 0;
    for (const note of this.notes) n += note.patientKeys.length;
    return n;
  }

  notePatients(patientKeys: Iterable<string>): void {
    const note = { id: this.nextId++, patientKeys: [...patientKeys] };
    if (note.patientKeys.length === 0) return;
    this.notes.push(note);
    this.send({ type: 'note', ...note });
  }

  settled(): Promise<void> {
    if (this.stopping && !this.worker) return Promise.resolve();
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.settles.set(id, resolve);
      this.send({ type: 'settle', id });
    });
  }

  timeline(patientKey: string, clinics?: readonly string[] | null) {
    return this.reader.timeline(patientKey, clinics);
  }

  /** Finishes every noted patient, then stops the worker. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    const worker = this.worker;
    if (!worker) return;
    await new Promise<void>((resolve) => {
      worker.once('exit', () => resolve());
      worker.on('message', (m: FromFollowupWorker) => m.type === 'stopped' && resolve());
      worker.postMessage({ type: 'stop' } satisfies ToFollowupWorker);
    });
    this.worker = undefined;
    await worker.terminate();
    for (const resolve of this.settles.values()) resolve();
    this.settles.clear();
  }
}
