import { type FileHandle, open } from 'node:fs/promises';
import { Worker } from 'node:worker_threads';
import { workerEntry } from '@vigil/shared';
import Database from 'better-sqlite3';

export interface DurableSqliteOptions {
  /**
   * Checkpoint the WAL from a worker thread once it holds this many bytes (default 4 MiB), instead
   * of SQLite's automatic checkpoint inside a commit on the event loop. 0 keeps SQLite's own.
   */
  checkpointBytes?: number;
  /**
   * A second connection to a database whose checkpoints another connection already runs (a worker
   * thread's writer): no checkpoints of its own, neither a worker nor SQLite's automatic ones.
   */
  secondaryConnection?: boolean;
}

/**
 * A WAL-mode SQLite connection whose commits become durable through an asynchronous fsync.
 *
 * With `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT, blocking the event loop
 * (better-sqlite3 is synchronous) for the whole disk flush. Here commits run with
 * `synchronous=NORMAL` (no fsync at commit, but the WAL is still synced before every checkpoint),
 * and `durable()` fsyncs the WAL file on libuv's thread pool. A caller acknowledges data only after
 * `durable()` resolves, which gives FULL's guarantee (committed frames are on disk) while the
 * event loop keeps serving MQTT during the flush, and one flush covers every commit before it.
 *
 * Checkpoints (copying WAL frames into the database) run in a worker thread with its own
 * connection (PASSIVE: they never block the writer). SQLite's automatic checkpoint would run them
 * inside a commit on the event loop, which cost as much as the inserts themselves at ingest rates.
 * If the worker stops, the connection falls back to SQLite's automatic checkpoints.
 */
export class DurableSqlite {
  readonly db: Database.Database;
  private wal: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  private checkpointer: Worker | undefined;
  /** The last error the checkpoint worker reported (for diagnostics). */
  checkpointError: string | undefined;

  constructor(
    readonly path: string,
    options: DurableSqliteOptions = {},
  ) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    const checkpointBytes = options.checkpointBytes ?? 4 * 1024 * 1024;
    if (options.secondaryConnection) this.db.pragma('wal_autocheckpoint = 0');
    else if (checkpointBytes > 0) this.startCheckpointer(checkpointBytes);
    // Result inserts touch several indexes keyed by random hashes: a 64 MiB page cache (default
    // 2 MiB) keeps their working set in memory instead of re-reading pages from the OS per insert.
    this.db.pragma('cache_size = -65536');
  }

  private startCheckpointer(thresholdBytes: number): void {
    const worker = new Worker(workerEntry(import.meta.url, 'wal-checkpointer'), {
      workerData: { path: this.path, thresholdBytes, intervalMs: 50 },
    });
    worker.unref();
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'error') this.checkpointError = m.message;
    });
    const fallBack = (error?: Error) => {
      if (this.checkpointer !== worker) return;
      this.checkpointer = undefined;
      if (error) this.checkpointError = error.message;
      if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000');
    };
    worker.once('error', fallBack);
    worker.once('exit', () => fallBack());
    this.checkpointer = worker;
    this.db.pragma('wal_autocheckpoint = 0');
  }

  private async stopCheckpointer(): Promise<void> {
    const worker = this.checkpointer;
    if (!worker) return;
    this.checkpointer = undefined;
    const stopped = new Promise<void>((resolve) => {
      worker.on('message', (m: { type: string }) => m.type === 'stopped' && resolve());
      worker.once('exit', () => resolve());
    });
    worker.postMessage('stop');
    await stopped;
    await worker.terminate();
  }

  /** Resolves once every transaction committed before the call is on stable storage. */
  durable(): Promise<void> {
    if (!this.running) return this.startFlush();
    // The running flush may have begun before our commit: join the one queued after it.
    this.queued ??= this.running.then(
      () => this.startQueued(),
      () => this.startQueued(),
    );
    return this.queued;
  }

  private startQueued(): Promise<void> {
    this.queued = undefined;
    return this.startFlush();
  }

  private startFlush(): Promise<void> {
    const run: Promise<void> = this.fsyncWal().finally(() => {
      if (this.running === run) this.running = undefined;
    });
    this.running = run;
    return run;
  }

  private async fsyncWal(): Promise<void> {
    // SQLite keeps reusing the same -wal file (it is reset in place, not replaced) while the
    // connection is open, so one handle stays valid.
    this.wal ??= await open(`${this.path}-wal`, 'r+');
    await this.wal.datasync();
  }

  async close(): Promise<void> {
    await this.stopCheckpointer();
    await this.queued;
    await this.running;
    await this.wal?.close();
    this.wal = undefined;
    this.db.close();
  }
}
