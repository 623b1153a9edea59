import type pg from 'pg';
import type { CounterStore } from '../../cluster/counter-store.js';
import { changed, rows } from './pg-client.js';

/** Expired rows are swept every this many writes (soft state: nothing else reads them). */
const SWEEP_EVERY = 1000;

const LOCK = `$3 * interval '1 millisecond'`;
/** A failure's count: a new one when the previous failure is older than a lock's length. */
const NEXT = `(CASE WHEN failure_counts.last_at < now() - ${LOCK} THEN 1 ELSE failure_counts.failures + 1 END)`;

/**
 * Rate-limit windows and failure counts in UNLOGGED tables shared by every replica: one statement
 * per call, no WAL and no fsync (a crash of the database empties them, which only resets limits).
 * `now()` is the database's clock, so replicas' clocks never disagree about a window.
 */
export class PgCounters implements CounterStore {
  private writes = 0;

  constructor(private readonly pool: pg.Pool) {}

  private async sweep(): Promise<void> {
    this.writes += 1;
    if (this.writes % SWEEP_EVERY !== 0) return;
    await changed(this.pool, 'counter sweep', 'DELETE FROM rate_windows WHERE ends_at < now()');
    await changed(
      this.pool,
      'counter sweep',
      `DELETE FROM failure_counts WHERE last_at < now() - interval '1 day' AND (locked_until IS NULL OR locked_until < now())`,
    );
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    await this.sweep();
    const [row] = await rows(
      this.pool,
      'rate limit',
      `INSERT INTO rate_windows (key, count, ends_at) VALUES ($1, 1, now() + $2 * interval '1 millisecond')
        ON CONFLICT (key) DO UPDATE SET
          count = CASE WHEN rate_windows.ends_at <= now() THEN 1 ELSE rate_windows.count + 1 END,
          ends_at = CASE WHEN rate_windows.ends_at <= now() THEN EXCLUDED.ends_at ELSE rate_windows.ends_at END
        RETURNING count, GREATEST(0, ceil(extract(epoch FROM ends_at - now()) * 1000))::bigint AS ttl_ms`,
      [key, windowMs],
    );
    return { count: Number(row?.count), ttlMs: Number(row?.ttl_ms) };
  }

  async fail(key: string, threshold: number, lockMs: number): Promise<boolean> {
    await this.sweep();
    const [row] = await rows(
      this.pool,
      'failure count',
      `INSERT INTO failure_counts (key, failures, last_at, locked_until)
          VALUES ($1, CASE WHEN 1 >= $2 THEN 0 ELSE 1 END, now(), CASE WHEN 1 >= $2 THEN now() + ${LOCK} END)
        ON CONFLICT (key) DO UPDATE SET
          failures = CASE WHEN ${NEXT} >= $2 THEN 0 ELSE ${NEXT} END,
          locked_until = CASE WHEN ${NEXT} >= $2 THEN now() + ${LOCK} ELSE failure_counts.locked_until END,
          last_at = now()
        RETURNING locked_until IS NOT NULL AND locked_until = now() + ${LOCK} AS locked`,
      [key, threshold, lockMs],
    );
    return row?.locked === true;
  }

  async lockedFor(key: string): Promise<number> {
    const [row] = await rows(
      this.pool,
      'failure lock',
      `SELECT GREATEST(0, ceil(extract(epoch FROM locked_until - now()) * 1000))::bigint AS ms
        FROM failure_counts WHERE key = $1 AND locked_until > now()`,
      [key],
    );
    return row ? Number(row.ms) : 0;
  }

  async clearFailure(key: string): Promise<void> {
    await changed(this.pool, 'failure clear', 'DELETE FROM failure_counts WHERE key = $1', [key]);
  }

  async clearFailures(prefix: string): Promise<void> {
    // starts_with, not LIKE: a name with % or _ must not match others.
    await changed(this.pool, 'failure clear', 'DELETE FROM failure_counts WHERE starts_with(key, $1)', [prefix]);
  }
}
