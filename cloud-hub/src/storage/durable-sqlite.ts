import { type FileHandle, open } from 'node:fs/promises';
import Database from 'better-sqlite3';

/**
 * A WAL-mode SQLite connection whose commits become durable through an asynchronous fsync.
 *
 * With `synchronous=FULL`, SQLite fsyncs the WAL inside every COMMIT, blocking the event loop
 * (better-sqlite3 is synchronous) for the whole disk flush. Here commits run with
 * `synchronous=NORMAL` (no fsync at commit, but the WAL is still synced before every checkpoint),
 * and `durable()` fsyncs the WAL file on libuv's thread pool. A caller acknowledges data only after
 * `durable()` resolves, which gives FULL's guarantee (committed frames are on disk) while the
 * event loop keeps serving MQTT during the flush, and one flush covers every commit before it.
 */
export class DurableSqlite {
  readonly db: Database.Database;
  private wal: FileHandle | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    // Result inserts touch several indexes keyed by random hashes: a 64 MiB page cache (default
    // 2 MiB) keeps their working set in memory instead of re-reading pages from the OS per insert.
    this.db.pragma('cache_size = -65536');
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
    await this.queued;
    await this.running;
    await this.wal?.close();
    this.wal = undefined;
    this.db.close();
  }
}
