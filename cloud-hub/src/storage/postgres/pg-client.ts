import { VigilError } from '@vigil/shared';
import type pg from 'pg';

export type Row = Record<string, unknown>;

/** SQLSTATE of a unique-key violation. */
export const UNIQUE_VIOLATION = '23505';

/** Any outage or refusal from the server, as the store's coded error (a VigilError passes through). */
export async function coded<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw new VigilError('VIGIL_STATE_STORE_UNAVAILABLE', `state store (PostgreSQL) ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/**
 * Runs `fn` in one transaction on one pooled connection: committed when it resolves, rolled back
 * when it throws. PostgreSQL's commit is durable (synchronous_commit), so a caller may acknowledge
 * what it wrote as soon as this resolves.
 */
export function inTransaction<T>(pool: pg.Pool, what: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  return coded(what, async () => {
    for (let attempt = 1; ; attempt++) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const value = await fn(client);
        await client.query('COMMIT');
        client.release();
        return value;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        const code = (error as { code?: string }).code;
        if (code && RETRYABLE.has(code)) {
          // The server aborted this transaction to break a deadlock or a serialization conflict
          // with another (a replica's): nothing of it was written, so running it again is safe.
          client.release();
          if (attempt < MAX_ATTEMPTS) {
            await new Promise((resolve) => setTimeout(resolve, attempt * 5 + Math.random() * 20));
            continue;
          }
        } else {
          // A connection that failed mid-transaction may be broken (server gone): discard it.
          client.release(error as Error);
        }
        throw error;
      }
    }
  });
}

/** SQLSTATEs of transactions the server aborted to let another go on: deadlock, serialization failure. */
const RETRYABLE = new Set(['40P01', '40001']);
const MAX_ATTEMPTS = 5;

/**
 * A write of bookkeeping that may be lost in a crash (a session's last-seen time), committed
 * without waiting for the WAL flush — the equivalent of the SQLite store writing it without an
 * fsync. Never for anything acknowledged to a device or a user.
 */
export function changedRelaxed(pool: pg.Pool, what: string, sql: string, args: unknown[] = []): Promise<number> {
  return inTransaction(pool, what, async (client) => {
    await client.query('SET LOCAL synchronous_commit TO OFF');
    return (await client.query(sql, args)).rowCount ?? 0;
  });
}

/** The query's rows (one round trip, coded on failure). */
export async function rows(pool: pg.Pool | pg.PoolClient, what: string, sql: string, args: unknown[] = []): Promise<Row[]> {
  return coded(what, async () => (await pool.query(sql, args)).rows as Row[]);
}

/** How many rows the statement changed. */
export async function changed(pool: pg.Pool | pg.PoolClient, what: string, sql: string, args: unknown[] = []): Promise<number> {
  return coded(what, async () => (await pool.query(sql, args)).rowCount ?? 0);
}

/** Numbered placeholders for a statement built clause by clause. */
export class Params {
  readonly values: unknown[] = [];
  /** Adds a value and returns its placeholder (`$n`). */
  add(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

/** Writes an engine-neutral fragment (`?` placeholders) with this query's numbered parameters. */
export function pgFragment(p: Params, fragment: { sql: string; values: readonly unknown[] }): string {
  let i = 0;
  return fragment.sql.replace(/\?/g, () => p.add(fragment.values[i++]));
}
