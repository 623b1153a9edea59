// Issue 12's tools: `vigil-hub state migrate` copies a running hub's SQLite state into PostgreSQL
// (the audit chain verifies afterwards), and the backup/restore procedures of docs/operations.md
// for both engines restore a state whose chain and counts are intact.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { topicFor } from '@vigil/shared';
import Database from 'better-sqlite3';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { PG_BIN, PostgresServer } from '../../scripts/harness/postgres.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { provisionUser } from '../src/auth/user-provisioning.js';
import type { PostgresLocation, StateStore } from '../src/state/state-store.js';
import { openStateStore } from '../src/storage/open-state.js';

const HUB_BIN = join(import.meta.dirname, '../bin/vigil-hub.mjs');
const server = new PostgresServer();
const dir = makeTempDir('state-tools');
let h: TestHub;
let statePath: string;

function cli(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [HUB_BIN, ...args], {
    env: { ...process.env, VIGIL_LOG_LEVEL: 'silent', ...env },
    encoding: 'utf8',
  });
}

function pgLocation(url: string): PostgresLocation {
  return { driver: 'postgres', url, sslmode: '', caFile: '', poolSize: 2, connectTimeoutMs: 5000, statementTimeoutMs: 30_000 };
}

/** What a store holds, in a form two engines can be compared on. */
async function snapshot(s: StateStore) {
  return {
    results: await s.listResultIds(),
    devices: (await s.listDevices()).map((d) => [d.deviceId, d.passwordHash, d.revokedAt]),
    deviceStates: (await s.listDeviceStates()).map((d) => [d.deviceId, d.status]),
    deadLetters: (await s.listDeadLetters(100)).map((d) => [
      d.code,
      d.payloadSha256,
      Buffer.from(d.payloadExcerpt).toString('hex'),
    ]),
    patients: (await s.followup.listPatients({ limit: 1000 })).items,
    alerts: (await s.followup.listAlerts({ limit: 1000 })).items,
    users: (await s.users.listUsers()).map((u) => [u.username, u.role, u.passwordHash, u.totpSecret]),
    audit: (await s.audit.list({ limit: 1000 })).items,
  };
}

before(async () => {
  await server.start();
  // A running hub on SQLite with every kind of state: devices, results and follow-up, a dead
  // letter, users (and their audit entries).
  h = await startTestHub();
  statePath = join(h.dataDir, 'state.sqlite');
  assert.equal(h.engine, 'sqlite');
  await h.addDevice('clinic-a', 'edge-a1');
  await h.addDevice('clinic-b', 'edge-b1');
  const base = { clinicId: 'clinic-a', deviceId: 'edge-a1', laterality: 'L', view: 'CC' } as const;
  for (const [patient, studyDate, diameterMm] of [
    ['alice', '2022-01-10', 5],
    ['alice', '2024-03-01', 9],
    ['bob', '2023-06-01', 4],
  ] as const) {
    const result = studyResult({
      ...base,
      patient,
      studyDate,
      score: 0.7,
      findings: [{ x: 0.4, y: 0.3, diameterMm, score: 0.7 }],
    });
    assert.equal(await h.hub.ingest.submit(topicFor(base, 'results'), Buffer.from(JSON.stringify(result)), 'edge-a1'), 'stored');
  }
  await h.hub.ingest.submit(topicFor(base, 'results'), Buffer.from([0xff, 0xfe, 0x00]), 'edge-a1').catch(() => 'dead-lettered');
  await provisionUser(h.hub.auth, h.hub.state.audit, { username: 'dr.lind', role: 'clinician', enrolTotp: true, actor: 'test' });
  await provisionUser(h.hub.auth, h.hub.state.audit, { username: 'ops1', role: 'ops', enrolTotp: false, actor: 'test' });
  await waitFor(
    'follow-up of both patients',
    async () => (await h.hub.state.followup.getPatient(patientKeyOf('bob'))) !== undefined,
  );
  await waitFor(
    'alice has both studies',
    async () => (await h.hub.state.followup.getPatient(patientKeyOf('alice')))?.studies === 2,
  );
  await waitFor('the dead letter is stored', async () => (await h.hub.state.listDeadLetters(10)).length === 1);
});

after(async () => {
  await h.stop();
  await server.dispose();
  dir.remove();
});

test('state migrate copies a running SQLite hub into PostgreSQL: same rows, chain verified, refused a second time', async () => {
  const url = server.createDatabase('migrated');
  const run = cli(['state', 'migrate', '--from', `sqlite:${statePath}`, '--to', url]);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stderr, /copied results: 3\/3/, 'progress per table');
  const report = JSON.parse(run.stdout) as {
    tables: { table: string; rows: number }[];
    audit: { ok: boolean; entries: number };
    auditHead: { source: string; copy: string };
  };
  assert.equal(report.audit.ok, true);
  assert.ok(report.audit.entries >= 2);
  assert.equal(report.auditHead.copy, report.auditHead.source);
  assert.equal(report.tables.find((t) => t.table === 'results')?.rows, 3);

  const copy = openStateStore(pgLocation(url));
  await copy.open();
  try {
    assert.deepEqual(await snapshot(copy), await snapshot(h.hub.state), 'every store reads the same from both engines');
    // The copy is a live store: the chain and the dead-letter ids continue where they were.
    const next = await copy.audit.append({
      actor: 'cli:root',
      actorRole: 'admin',
      action: 'state.migrated',
      targetType: 'state',
      targetId: 'postgres',
      outcome: 'success',
      ip: 'local',
    });
    assert.equal(next.seq, report.audit.entries + 1);
    assert.equal((await copy.audit.verify()).ok, true);
  } finally {
    await copy.close();
  }

  const again = cli(['state', 'migrate', '--from', `sqlite:${statePath}`, '--to', url]);
  assert.equal(again.status, 2);
  assert.match(again.stderr, /VIGIL_STATE_MIGRATION_REFUSED: .*already holds/);
  const bad = cli(['state', 'migrate', '--from', `sqlite:${statePath}`, '--to', 'postgres://vigil@127.0.0.1:1/none']);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /VIGIL_STATE_STORE_UNAVAILABLE: config key state\.url/);
});

test('backup and restore (docs/operations.md): SQLite online backup, PostgreSQL pg_dump/pg_restore; the chain verifies after', async () => {
  // SQLite: an online backup of the running hub, restored into a new data directory.
  const backup = join(dir.path, 'state-backup.sqlite');
  const config = { VIGIL_DATA_DIR: h.dataDir };
  const saved = cli(['state', 'backup', '--to', backup], config);
  assert.equal(saved.status, 0, saved.stderr);
  const restoredDir = join(dir.path, 'restored');
  mkdirSync(restoredDir);
  copyFileSync(backup, join(restoredDir, 'state.sqlite'));
  const sqliteCheck = cli(['state', 'verify'], { VIGIL_DATA_DIR: restoredDir });
  assert.equal(sqliteCheck.status, 0, sqliteCheck.stderr);
  const sqliteReport = JSON.parse(sqliteCheck.stdout) as {
    driver: string;
    results: number;
    audit: { ok: boolean; entries: number };
  };
  assert.deepEqual([sqliteReport.driver, sqliteReport.results, sqliteReport.audit.ok], ['sqlite', 3, true]);
  assert.equal(sqliteReport.audit.entries, (await h.hub.state.audit.verify()).entries);
  // An entry altered outside the hub (its append-only trigger dropped first): a coded refusal, status 3.
  const tampered = join(dir.path, 'tampered');
  mkdirSync(tampered);
  copyFileSync(backup, join(tampered, 'state.sqlite'));
  const raw = new Database(join(tampered, 'state.sqlite'));
  raw.exec("DROP TRIGGER audit_log_no_update; UPDATE audit_log SET outcome = 'denied' WHERE seq = 2");
  raw.close();
  const tamperedCheck = cli(['state', 'verify'], { VIGIL_DATA_DIR: tampered });
  assert.equal(tamperedCheck.status, 3, tamperedCheck.stderr);
  assert.match(tamperedCheck.stderr, /VIGIL_AUDIT_CHAIN_BROKEN: .*first bad entry 2/);

  // PostgreSQL: pg_dump in the custom format, pg_restore into a new database.
  const source = server.createDatabase('to_back_up');
  assert.equal(cli(['state', 'migrate', '--from', `sqlite:${statePath}`, '--to', source]).status, 0);
  const dump = join(dir.path, 'state.pgdump');
  const connection = ['-h', '127.0.0.1', '-p', String(server.port), '-U', 'vigil'];
  execFileSync(join(PG_BIN, 'pg_dump'), [...connection, '-Fc', '-f', dump, 'to_back_up']);
  const restored = server.createDatabase('restored');
  execFileSync(join(PG_BIN, 'pg_restore'), [...connection, '--no-owner', '--exit-on-error', '-d', 'restored', dump]);
  const pgEnv = { VIGIL_DATA_DIR: join(dir.path, 'pg-hub'), VIGIL_STATE__DRIVER: 'postgres', VIGIL_STATE__URL: restored };
  const pgCheck = cli(['state', 'verify'], pgEnv);
  assert.equal(pgCheck.status, 0, pgCheck.stderr);
  const pgReport = JSON.parse(pgCheck.stdout) as { driver: string; results: number; audit: { ok: boolean; entries: number } };
  assert.deepEqual([pgReport.driver, pgReport.results, pgReport.audit.ok], ['postgres', 3, true]);
  assert.equal(pgReport.audit.entries, sqliteReport.audit.entries);
  // The restored database still refuses to rewrite history (the triggers came back with it).
  const store = openStateStore(pgLocation(restored));
  await store.open();
  try {
    const pool = new (await import('pg')).default.Pool({ connectionString: restored, max: 1 });
    await assert.rejects(pool.query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1"), /append-only/);
    await pool.end();
  } finally {
    await store.close();
  }
});
