import { VigilError } from '@vigil/shared';
import Database from 'better-sqlite3';
import type pg from 'pg';
import type { AuditVerification } from '../audit/audit-store.js';
import type { PostgresLocation } from '../state/state-store.js';
import { PgAuditStore } from './postgres/pg-audit-store.js';
import { inTransaction } from './postgres/pg-client.js';
import { openPgPool, openPgSchema } from './postgres/pg-state-store.js';
import { SQLITE_MIGRATIONS } from './sqlite/sqlite-migrations.js';

/** Every state table, in an order that copies referenced rows first. */
export const STATE_TABLES = [
  'devices',
  'device_state',
  'results',
  'dead_letters',
  'patients',
  'patient_clinics',
  'alerts',
  'users',
  'recovery_codes',
  'sessions',
  'api_tokens',
  'audit_log',
  'model_packages',
  'rollouts',
  'rollout_devices',
  'device_desired',
  'verdicts',
  'ops_alerts',
  'enrolment_tokens',
  'device_certificates',
] as const;

/** PostgreSQL allows 65 535 parameters per statement. */
const MAX_PARAMS = 60_000;

export interface TransferReport {
  tables: { table: string; rows: number }[];
  audit: AuditVerification;
  /** The newest audit hash in the source and in the copy (they must be equal). */
  auditHead: { source: string | null; copy: string | null };
}

export type TransferProgress = (table: string, copied: number, total: number) => void;

/** Tables whose ids PostgreSQL generates continue after the copied rows. */
async function restartSequence(c: pg.PoolClient, table: string): Promise<void> {
  const column = ({ verdicts: 'seq', dead_letters: 'id' } as Record<string, string>)[table];
  if (!column) return;
  await c.query(
    `SELECT setval(pg_get_serial_sequence('${table}', '${column}'), coalesce(max(${column}), 0) + 1, false) FROM ${table}`,
  );
}

/**
 * Copies a SQLite state database into an empty PostgreSQL database, in one PostgreSQL transaction
 * (all or nothing), from one consistent SQLite snapshot (a read transaction: the hub may be running,
 * but what it commits after the snapshot is not copied — stop it first when switching engines).
 * Row counts are compared table by table and the audit chain is verified in the copy.
 *
 * Written here rather than with a generic tool (pgloader is not packaged with the hub, and knows
 * nothing of the audit chain): the two schemas share table and column names by design, so the copy
 * is column-driven, with PostgreSQL's column types deciding the two conversions (booleans, bytea).
 */
export async function copySqliteToPostgres(
  sqlitePath: string,
  target: PostgresLocation,
  progress: TransferProgress = () => undefined,
): Promise<TransferReport> {
  const source = new Database(sqlitePath, { readonly: true, fileMustExist: true });
  const pool = openPgPool(target, 2);
  try {
    const version = (source.prepare('SELECT max(version) AS v FROM schema_migrations').get() as { v: number | null }).v ?? 0;
    const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;
    if (version !== latest) {
      throw new VigilError(
        'VIGIL_STATE_MIGRATION_REFUSED',
        `the SQLite state is at schema version ${version}, this hub's is ${latest}: start the hub once on it, then copy`,
      );
    }
    await openPgSchema(pool, target);
    source.exec('BEGIN'); // one snapshot for every table
    const tables = await inTransaction(pool, 'state copy', async (c) => {
      const copied: { table: string; rows: number }[] = [];
      for (const table of STATE_TABLES) {
        const existing = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
        if (existing > 0) {
          throw new VigilError(
            'VIGIL_STATE_MIGRATION_REFUSED',
            `the PostgreSQL database already holds ${existing} rows in ${table}`,
          );
        }
      }
      for (const table of STATE_TABLES) {
        const columns = (
          await c.query(
            'SELECT column_name, data_type FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position',
            [table],
          )
        ).rows as { column_name: string; data_type: string }[];
        const sourceColumns = new Set(
          (source.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((col) => col.name),
        );
        const missing = columns.filter((col) => !sourceColumns.has(col.column_name));
        if (missing.length > 0)
          throw new VigilError(
            'VIGIL_STATE_MIGRATION_REFUSED',
            `${table}: the SQLite table lacks ${missing.map((m) => m.column_name).join(', ')}`,
          );
        const names = columns.map((col) => col.column_name);
        const convert = columns.map((col) =>
          col.data_type === 'boolean' ? (v: unknown) => (v === null ? null : Boolean(v)) : (v: unknown) => v,
        );
        const total = (source.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n;
        const perStatement = Math.max(1, Math.floor(MAX_PARAMS / names.length));
        let batch: unknown[][] = [];
        let done = 0;
        const flush = async () => {
          if (batch.length === 0) return;
          const values = batch.map((_row, r) => `(${names.map((_n, k) => `$${r * names.length + k + 1}`).join(', ')})`);
          await c.query(`INSERT INTO ${table} (${names.join(', ')}) VALUES ${values.join(', ')}`, batch.flat());
          done += batch.length;
          batch = [];
          progress(table, done, total);
        };
        const rows = source
          .prepare(`SELECT ${names.join(', ')} FROM ${table} ORDER BY rowid`)
          .raw()
          .iterate() as Iterable<unknown[]>;
        for (const row of rows) {
          batch.push(row.map((v, k) => (convert[k] as (v: unknown) => unknown)(v)));
          if (batch.length >= perStatement) await flush();
        }
        await flush();
        if (total === 0) progress(table, 0, 0);
        await restartSequence(c, table);
        const copiedRows = Number((await c.query(`SELECT count(*) AS n FROM ${table}`)).rows[0]?.n ?? 0);
        if (copiedRows !== total) throw new Error(`${table}: ${total} rows read, ${copiedRows} in the copy`);
        copied.push({ table, rows: copiedRows });
      }
      return copied;
    });
    const sourceHead = source.prepare('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1').get() as
      | { hash: string }
      | undefined;
    source.exec('COMMIT');
    const audit = await new PgAuditStore(pool).verify();
    const copyHead = (await pool.query('SELECT hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0] as
      | { hash: string }
      | undefined;
    return { tables, audit, auditHead: { source: sourceHead?.hash ?? null, copy: copyHead?.hash ?? null } };
  } finally {
    source.close();
    await pool.end();
  }
}
