// Issue 12 / ADR 0018: one typed query layer (Kysely) over both engines, or hand-written SQL per
// engine? Measures, in one run and on the same rows, what decides it: the CPU cost of committing
// results (the hub's ingest path) and keyset page latency (the API's lists), raw driver against
// Kysely, on SQLite (better-sqlite3) and on a real PostgreSQL 15 started by the test harness.
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, sql } from 'kysely';
import pg from 'pg';
import { PostgresServer } from '../harness/postgres.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { progress, round, summarise } from './stats.js';

const ROWS = 20_000;
const BATCH = 500;
const PAGES = 300;

interface ResultRow {
  message_id: string;
  clinic_id: string;
  device_id: string;
  patient_key: string;
  study_date: string;
  created_at: string;
  score: number;
  body_json: string;
}

interface Schema {
  results: ResultRow;
}

function rows(): ResultRow[] {
  return Array.from({ length: ROWS }, (_, i) => {
    const id = createHash('sha256').update(String(i)).digest('hex').slice(0, 32);
    return {
      message_id: id,
      clinic_id: `clinic-${i % 7}`,
      device_id: `edge-${i % 40}`,
      patient_key: id.slice(0, 16),
      study_date: '2026-11-30',
      created_at: new Date(Date.UTC(2026, 10, 1) + i * 1000).toISOString(),
      score: (i % 100) / 100,
      // A result body of the size the hub stores (~600 bytes).
      body_json: JSON.stringify({ id, findings: [{ x: 0.4, y: 0.3, diameterMm: 9.1, score: 0.7 }], pad: 'x'.repeat(480) }),
    };
  });
}

const COLUMNS = [
  'message_id',
  'clinic_id',
  'device_id',
  'patient_key',
  'study_date',
  'created_at',
  'score',
  'body_json',
] as const;
const DDL = `CREATE TABLE results (message_id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL, device_id TEXT NOT NULL,
  patient_key TEXT NOT NULL, study_date TEXT NOT NULL, created_at TEXT NOT NULL, score REAL NOT NULL, body_json TEXT NOT NULL);
  CREATE INDEX results_time_id ON results (created_at, message_id)`;

async function measure(label: string, task: () => Promise<void>): Promise<{ cpuUsPerRow: number; ms: number }> {
  const cpu = process.cpuUsage();
  const started = performance.now();
  await task();
  const ms = performance.now() - started;
  const used = process.cpuUsage(cpu);
  progress(`query-layer: ${label} ${ms.toFixed(0)} ms`);
  return { cpuUsPerRow: round((used.user + used.system) / ROWS, 1), ms: Math.round(ms) };
}

async function pages(next: (before: { at: string; id: string }) => Promise<ResultRow[]>): Promise<ReturnType<typeof summarise>> {
  const times: number[] = [];
  for (let i = 0; i < PAGES; i++) {
    const cursor = { at: new Date(Date.UTC(2026, 10, 1) + (ROWS - ((i * 53) % ROWS)) * 1000).toISOString(), id: 'f' };
    const started = performance.now();
    const page = await next(cursor);
    times.push(performance.now() - started);
    if (page.length === 0 && i === 0) throw new Error('empty page');
  }
  return summarise(times);
}

/** The keyset page through Kysely (the same builder code on both engines). */
function kyselyPage(kdb: Kysely<Schema>, c: { at: string; id: string }): Promise<ResultRow[]> {
  return kdb
    .selectFrom('results')
    .selectAll()
    .where(sql<boolean>`(created_at, message_id) < (${c.at}, ${c.id})`)
    .orderBy('created_at', 'desc')
    .orderBy('message_id', 'desc')
    .limit(100)
    .execute();
}

async function sqliteFigures(data: ResultRow[], dir: string) {
  const open = (name: string) => {
    const db = new Database(join(dir, name));
    db.pragma('journal_mode = WAL');
    db.pragma('synchronous = NORMAL');
    db.exec(DDL);
    return db;
  };
  const rawDb = open('raw.sqlite');
  const insert = rawDb.prepare(
    `INSERT INTO results (${COLUMNS.join(', ')}) VALUES (${COLUMNS.map((c) => `@${c}`).join(', ')}) ON CONFLICT (message_id) DO NOTHING`,
  );
  const commit = rawDb.transaction((batch: ResultRow[]) => {
    for (const r of batch) insert.run(r);
  });
  const raw = await measure('sqlite raw', async () => {
    for (let i = 0; i < data.length; i += BATCH) commit(data.slice(i, i + BATCH));
  });
  const page = rawDb.prepare(
    'SELECT * FROM results WHERE (created_at, message_id) < (?, ?) ORDER BY created_at DESC, message_id DESC LIMIT 100',
  );
  const rawPages = await pages(async (c) => page.all(c.at, c.id) as ResultRow[]);

  const kdb = new Kysely<Schema>({ dialect: new SqliteDialect({ database: open('kysely.sqlite') }) });
  const kysely = await measure('sqlite kysely', async () => {
    for (let i = 0; i < data.length; i += BATCH) {
      const batch = data.slice(i, i + BATCH);
      await kdb.transaction().execute((trx) =>
        trx
          .insertInto('results')
          .values(batch)
          .onConflict((oc) => oc.column('message_id').doNothing())
          .execute(),
      );
    }
  });
  const kyselyPages = await pages((c) => kyselyPage(kdb, c));
  await kdb.destroy();
  rawDb.close();
  return { raw: { ...raw, pageMs: rawPages }, kysely: { ...kysely, pageMs: kyselyPages } };
}

async function postgresFigures(data: ResultRow[], server: PostgresServer) {
  const pool = new pg.Pool({ connectionString: server.createDatabase('bench_raw'), max: 4 });
  await pool.query(DDL);
  const placeholders = (n: number) =>
    Array.from({ length: n }, (_, r) => `(${COLUMNS.map((_c, k) => `$${r * COLUMNS.length + k + 1}`).join(', ')})`).join(', ');
  const raw = await measure('postgres raw', async () => {
    for (let i = 0; i < data.length; i += BATCH) {
      const batch = data.slice(i, i + BATCH);
      await pool.query(
        `INSERT INTO results (${COLUMNS.join(', ')}) VALUES ${placeholders(batch.length)} ON CONFLICT (message_id) DO NOTHING`,
        batch.flatMap((r) => COLUMNS.map((c) => r[c])),
      );
    }
  });
  const rawPages = await pages(
    async (c) =>
      (
        await pool.query(
          'SELECT * FROM results WHERE (created_at, message_id) < ($1, $2) ORDER BY created_at DESC, message_id DESC LIMIT 100',
          [c.at, c.id],
        )
      ).rows as ResultRow[],
  );
  await pool.end();

  const kdb = new Kysely<Schema>({
    dialect: new PostgresDialect({ pool: new pg.Pool({ connectionString: server.createDatabase('bench_kysely'), max: 4 }) }),
  });
  await sql.raw(DDL).execute(kdb);
  const kysely = await measure('postgres kysely', async () => {
    for (let i = 0; i < data.length; i += BATCH) {
      await kdb
        .insertInto('results')
        .values(data.slice(i, i + BATCH))
        .onConflict((oc) => oc.column('message_id').doNothing())
        .execute();
    }
  });
  const kyselyPages = await pages((c) => kyselyPage(kdb, c));
  await kdb.destroy();
  return { raw: { ...raw, pageMs: rawPages }, kysely: { ...kysely, pageMs: kyselyPages } };
}

export async function benchQueryLayer(): Promise<Record<string, unknown>> {
  const dir = makeTempDir('bench-query-layer');
  const server = new PostgresServer();
  try {
    const data = rows();
    const sqlite = await sqliteFigures(data, dir.path);
    await server.start();
    const postgres = await postgresFigures(data, server);
    const ratio = (a: number, b: number) => round(a / b);
    return {
      bench: 'query-layer',
      rows: ROWS,
      batch: BATCH,
      sqlite,
      postgres,
      ratioKyselyToRaw: {
        sqliteCpuPerRow: ratio(sqlite.kysely.cpuUsPerRow, sqlite.raw.cpuUsPerRow),
        sqlitePageP50: ratio(sqlite.kysely.pageMs.p50, sqlite.raw.pageMs.p50),
        postgresCpuPerRow: ratio(postgres.kysely.cpuUsPerRow, postgres.raw.cpuUsPerRow),
        postgresPageP50: ratio(postgres.kysely.pageMs.p50, postgres.raw.pageMs.p50),
      },
      note: 'cpuUsPerRow is this process (driver + query building), not the PostgreSQL server; pages are keyset pages of 100 at 20 000 rows',
    };
  } finally {
    await server.dispose();
    dir.remove();
  }
}
