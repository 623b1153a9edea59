/**
 * One async database port for the stores that are the same on every engine (issue 29): statements
 * are written once with `?` placeholders, and each engine's adapter runs them (SQLite: better-sqlite3,
 * durable before it resolves; PostgreSQL: the pool, `?` renumbered to `$n`). Transactions are a batch
 * of statements run atomically: SQLite's are synchronous, so an async callback inside one could let
 * another store's statements in between; a batch cannot. Logic that must read before it decides is
 * written as a conditional statement (an UPDATE … WHERE the state allows it) and a read after it.
 * Engine-specific code stays in its engine where it earns its place (batched ingest, locked timeline
 * saves, leases).
 */
import { VigilError } from '@vigil/shared';
import type { LeaseFence } from '../../cluster/lease-store.js';

export type Row = Record<string, unknown>;

export interface Statement {
  sql: string;
  params?: readonly unknown[];
  /** A guard: when this statement returns no row, the batch stops with this error and nothing of it is kept. */
  orFail?: Error;
}

/** What differs between the engines in statements written once. */
export interface SqlDialect {
  /** After a text column in ORDER BY: sort by code point (SQLite's default; PostgreSQL's "C" collation). */
  readonly byCodePoint: string;
  /** After a SELECT of a row the transaction relies on: its shared lock (PostgreSQL's FOR SHARE; SQLite's write transaction already excludes others). */
  readonly lockShared: string;
  /**
   * The current time in SQL, plus `plusMs` (leases' expiry): this process's clock as ISO text on
   * SQLite (one process owns the file), the server's clock on PostgreSQL (replicas' clocks may differ).
   */
  clock(plusMs?: number): { sql: string; params: unknown[] };
}

/**
 * A guard for fenced writes: it returns a row while `fence`'s lease is still held (by the dialect's
 * clock, the lease row locked so no takeover commits first), so a replica that lost the lease writes
 * nothing (VIGIL_LEASE_LOST).
 */
export function leaseHeld(dialect: SqlDialect, fence: LeaseFence): Statement {
  const now = dialect.clock();
  return {
    sql: `SELECT 1 FROM leases WHERE name = ? AND holder = ? AND epoch = ? AND expires_at > ${now.sql}${dialect.lockShared}`,
    params: [fence.name, fence.holder, fence.epoch, ...now.params],
    orFail: new VigilError('VIGIL_LEASE_LOST', `lease ${fence.name} (epoch ${fence.epoch}) is no longer held by ${fence.holder}`),
  };
}

export interface StatementResult {
  rows: Row[];
  /** Rows inserted, updated or deleted. */
  changes: number;
}

export interface SqlPort {
  readonly engine: 'sqlite' | 'postgres';
  readonly dialect: SqlDialect;
  /** The rows of one read; failures are VIGIL_STATE_STORE_UNAVAILABLE naming `what`. */
  all(what: string, sql: string, params?: readonly unknown[]): Promise<Row[]>;
  /** One write, durable when it resolves; the rows it changed. */
  run(what: string, sql: string, params?: readonly unknown[]): Promise<number>;
  /**
   * A write of bookkeeping that may be lost in a crash (a session's last-seen time): not waited on
   * to reach the disk. Never for anything acknowledged to a device or a user.
   */
  runRelaxed(what: string, sql: string, params?: readonly unknown[]): Promise<number>;
  /** Statements in one transaction, all or none, durable when it resolves; a result per statement. */
  batch(what: string, statements: readonly Statement[]): Promise<StatementResult[]>;
}

/** Whether a failed statement broke a primary-key or unique constraint (the driver's error, or the port's coded one around it). */
export function isUniqueViolation(error: unknown): boolean {
  const driver = (error as { cause?: unknown }).cause ?? error;
  const code = (driver as { code?: string }).code ?? '';
  return code === '23505' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY' || code === 'SQLITE_CONSTRAINT_UNIQUE';
}

/**
 * Orders strings by UTF-16 code unit (JavaScript's `<`), which for the ASCII keys the stores sort (ids,
 * usernames, patient keys) is the dialect's `byCodePoint` order: locks taken in this order in code
 * match the order SQL sorts them in.
 */
export function byCodeUnit(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `?, ?, ?` for n values. */
export function marks(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}

/** `?` placeholders → `$1, $2, …` (PostgreSQL), leaving quoted text alone. */
export function numberedPlaceholders(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = '';
  for (const c of sql) {
    if (c === "'") quoted = !quoted;
    out += c === '?' && !quoted ? `$${++n}` : c;
  }
  return out;
}
