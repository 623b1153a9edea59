// The audit store's contract, run with the same assertions on both engines (issue 12): SQLite
// (better-sqlite3, the hub's default) and a real PostgreSQL 15. The first slice of the state-store
// contract suite; the PostgreSQL side also covers migrations and an outage.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import type { AuditStore } from '../src/audit/audit-store.js';
import { PgAuditStore } from '../src/storage/postgres/pg-audit-store.js';
import { migratePostgres } from '../src/storage/postgres/pg-migrate.js';
import { PG_MIGRATIONS } from '../src/storage/postgres/pg-migrations.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

interface Engine {
  name: string;
  store: AuditStore;
  /** Rewrites entry `seq` behind the store's back, as someone with database access who disables the guard. */
  tamper(seq: number): Promise<void>;
  /** The database's own answer to an UPDATE and a DELETE of the log (it must refuse both). */
  rewrite(): Promise<unknown[]>;
  close(): Promise<void>;
}

const dir = makeTempDir('audit-contract');
const server = new PostgresServer();
const engines: Engine[] = [];

before(async () => {
  const path = join(dir.path, 'state.sqlite');
  const sqlite = new SqliteStateStore(path);
  const raw = () => new Database(path);
  engines.push({
    name: 'sqlite',
    store: sqlite.audit,
    tamper: async (seq) => {
      const db = raw();
      db.exec('DROP TRIGGER audit_log_no_update');
      db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = ?").run(seq);
      db.close();
    },
    rewrite: async () => {
      const db = raw();
      const outcomes = [
        () => db.prepare("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1").run(),
        () => db.prepare('DELETE FROM audit_log WHERE seq = 1').run(),
      ].map((attempt) => {
        try {
          return attempt();
        } catch (error) {
          return error;
        }
      });
      db.close();
      return outcomes;
    },
    close: () => sqlite.close(),
  });
  await server.start();
  const pool = new pg.Pool({ connectionString: server.createDatabase('audit_contract'), max: 4 });
  // Idle connections are cut when the outage test stops the server: the pool reports it, nothing more.
  pool.on('error', () => undefined);
  await migratePostgres(pool);
  engines.push({
    name: 'postgres',
    store: new PgAuditStore(pool),
    tamper: async (seq) => {
      await pool.query('ALTER TABLE audit_log DISABLE TRIGGER USER');
      await pool.query("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", [seq]);
    },
    rewrite: async () =>
      Promise.all(
        ["UPDATE audit_log SET actor = 'mallory' WHERE seq = 1", 'DELETE FROM audit_log WHERE seq = 1', 'TRUNCATE audit_log'].map(
          (q) =>
            pool.query(q).then(
              (r) => r,
              (error: unknown) => error,
            ),
        ),
      ),
    close: () => pool.end(),
  });
});

after(async () => {
  for (const engine of engines) await engine.close();
  await server.dispose();
  dir.remove();
});

for (const name of ['sqlite', 'postgres']) {
  describe(`audit store contract: ${name}`, () => {
    const engine = () => engines.find((e) => e.name === name) as Engine;

    it('appends a hash chain, lists newest first with a cursor and filters, and verifies', async () => {
      const { store } = engine();
      const appended = [];
      for (let i = 0; i < 5; i++) {
        appended.push(
          await store.append({
            actor: i % 2 ? 'dr.lind' : 'ops1',
            actorRole: i % 2 ? 'clinician' : 'ops',
            action: i % 2 ? 'patient.timeline.read' : 'rollout.start',
            targetType: i % 2 ? 'patient' : 'rollout',
            targetId: `t-${i}`,
            patientKey: i % 2 ? 'a'.repeat(32) : null,
            outcome: 'success',
            details: { i, nested: { ok: true } },
            ip: '127.0.0.1',
          }),
        );
      }
      assert.deepEqual(
        appended.map((e) => e.seq),
        [1, 2, 3, 4, 5],
      );
      assert.equal(appended[1]?.prevHash, appended[0]?.hash, 'each entry chains to its predecessor');
      const first = await store.list({ limit: 2 });
      assert.deepEqual(
        first.items.map((e) => e.seq),
        [5, 4],
      );
      assert.ok(first.next);
      const second = await store.list({ limit: 2, cursor: first.next });
      assert.deepEqual(
        second.items.map((e) => e.seq),
        [3, 2],
      );
      const reads = await store.list({ limit: 10, patientKey: 'a'.repeat(32) });
      assert.deepEqual(
        reads.items.map((e) => e.seq),
        [4, 2],
      );
      assert.deepEqual((await store.list({ limit: 10, actor: 'ops1', action: 'rollout.start' })).items.length, 3);
      assert.deepEqual(reads.items[0]?.details, { i: 3, nested: { ok: true } }, 'details survive the round trip');
      assert.deepEqual(await store.verify(), { ok: true, entries: 5, firstBadSeq: null });
    });

    it('the database refuses to rewrite the log; a rewrite behind its back is named by verify', async () => {
      const { store } = engine();
      const outcomes = await engine().rewrite();
      for (const outcome of outcomes) assert.match(String((outcome as Error)?.message), /append-only/);
      assert.equal((await store.verify()).ok, true, 'nothing was changed');
      await engine().tamper(3);
      assert.deepEqual(await store.verify(), { ok: false, entries: 3, firstBadSeq: 3 });
    });
  });
}

describe('PostgreSQL migrations and outages', () => {
  it('a second migration run is a no-op; the schema version is recorded', async () => {
    const pool = new pg.Pool({ connectionString: server.url('audit_contract'), max: 1 });
    try {
      const again = await migratePostgres(pool);
      assert.deepEqual(again.applied, []);
      assert.equal(again.version, PG_MIGRATIONS.at(-1)?.version);
      const recorded = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(
        recorded.rows.map((r) => r.version),
        PG_MIGRATIONS.map((m) => m.version),
      );
    } finally {
      await pool.end();
    }
  });

  it('an outage is a coded error (VIGIL_STATE_STORE_UNAVAILABLE), and the store works again once the server is back', async () => {
    const pool = new pg.Pool({ connectionString: server.url('audit_contract'), max: 2, connectionTimeoutMillis: 5000 });
    pool.on('error', () => undefined);
    const store = new PgAuditStore(pool);
    try {
      await server.stop();
      await assert.rejects(
        store.append({
          actor: 'a',
          actorRole: 'admin',
          action: 'x',
          targetType: 't',
          targetId: 'i',
          outcome: 'success',
          ip: 'local',
        }),
        (error: Error & { code?: string }) => error.code === 'VIGIL_STATE_STORE_UNAVAILABLE',
      );
      await server.start();
      const entry = await store.append({
        actor: 'a',
        actorRole: 'admin',
        action: 'after.outage',
        targetType: 't',
        targetId: 'i',
        outcome: 'success',
        ip: 'local',
      });
      assert.equal(entry.seq, 6, 'the chain goes on where it was');
    } finally {
      await pool.end();
    }
  });
});
