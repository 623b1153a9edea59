import { VigilError } from '@vigil/shared';
import type pg from 'pg';
import { PG_MIGRATIONS } from './pg-migrations.js';

/** Any fixed number: serialises migrations between hub replicas starting at the same moment. */
const MIGRATION_LOCK = 0x76_69_67_69; // "vigi"

/**
 * Brings the schema up to date at start: each missing migration in its own transaction, recorded in
 * `schema_migrations`, under a transaction-level advisory lock so replicas starting together run each
 * migration once. Running it again is a no-op. A database newer than this code is refused.
 */
export async function migratePostgres(pool: pg.Pool): Promise<{ applied: number[]; version: number }> {
  const client = await pool.connect();
  const applied: number[] = [];
  try {
    // Under the lock too: two replicas creating the table at once race inside CREATE TABLE IF NOT
    // EXISTS (one fails on pg_type's unique index; seen when the soak started two replicas together).
    await client.query('BEGIN');
    try {
      await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
      await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
        version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    const latest = PG_MIGRATIONS.at(-1)?.version ?? 0;
    for (const migration of PG_MIGRATIONS) {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
        const done = await client.query('SELECT max(version) AS v FROM schema_migrations');
        const current = Number(done.rows[0]?.v ?? 0);
        if (current > latest) {
          throw new VigilError(
            'VIGIL_STATE_STORE_UNAVAILABLE',
            `the PostgreSQL schema is at version ${current}, newer than this hub knows (${latest}): upgrade the hub`,
          );
        }
        if (migration.version > current) {
          await client.query(migration.sql);
          await client.query('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [
            migration.version,
            migration.name,
          ]);
          applied.push(migration.version);
        }
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    }
    return { applied, version: latest };
  } finally {
    client.release();
  }
}
