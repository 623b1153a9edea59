// Hardening of the watched folder against files that vanish, change or are replaced while they are
// taken: a real `vigil-edge serve` process, files deleted at the racy moment,
// and a bounded random churn with exactly-once accounting.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  truncateSync,
  type WatchListener,
  watch,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { mrSmallWithUid } from '../../scripts/harness/dicom-variants.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

const BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

interface EdgeProcess {
  child: ChildProcess;
  inbox: string;
  dataDir: string;
  logFile: string;
  alive(): boolean;
  logs(): { code?: string; msg: string }[];
  stop(): Promise<void>;
}

async function startEdge(dir: string, id: string): Promise<EdgeProcess> {
  const inbox = join(dir, 'inbox');
  const dataDir = join(dir, 'edge');
  const logFile = join(dir, 'edge.log');
  mkdirSync(inbox, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve'], {
    env: {
      ...process.env,
      VIGIL_LOG_LEVEL: 'info',
      VIGIL_CLINIC_ID: 'clinic-a',
      VIGIL_DEVICE_ID: id,
      VIGIL_DATA_DIR: dataDir,
      VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
      VIGIL_WATCH_FOLDER__PATH: inbox,
      VIGIL_WATCH_FOLDER__INTERVAL_MS: '50',
      VIGIL_WATCH_FOLDER__STABLE_MS: '100',
      VIGIL_DEID__SECRET: 'hardening-test-secret-0001',
      VIGIL_IMAGING__DECODE_THREADS: '1',
      VIGIL_TELEMETRY__INTERVAL_S: '3600',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = createWriteStream(logFile);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);
  const edge: EdgeProcess = {
    child,
    inbox,
    dataDir,
    logFile,
    alive: () => child.exitCode === null && child.signalCode === null,
    logs: () =>
      readFileSync(logFile, 'utf8')
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as { code?: string; msg: string }),
    stop: async () => {
      if (!edge.alive()) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    },
  };
  await waitFor('edge agent started', () => edge.logs().some((l) => l.msg === 'edge agent started'), 60_000, 100);
  return edge;
}

function ledger(dataDir: string): Map<string, string> {
  const db = new Database(join(dataDir, 'intake.sqlite'), { readonly: true });
  try {
    const rows = db.prepare('SELECT sop_instance_uid AS uid, state FROM instances').all() as { uid: string; state: string }[];
    return new Map(rows.map((r) => [r.uid, r.state]));
  } finally {
    db.close();
  }
}

test('files deleted the moment intake takes or quarantines them never stop the process', async () => {
  const dir = makeTempDir('race');
  const edge = await startEdge(dir.path, 'edge-race');
  const quarantine = join(edge.dataDir, 'quarantine');
  const claims = join(edge.inbox, '.vigil-taking');
  mkdirSync(claims, { recursive: true });
  // The attacker: whenever a quarantine reason appears or intake claims a file, delete every file in
  // the inbox and the claim folder at once (what a cleanup job on the share does).
  const purge: WatchListener<string> = () => {
    for (const d of [edge.inbox, claims]) {
      for (const name of readdirSync(d)) {
        if (name !== '.vigil-taking') rmSync(join(d, name), { force: true });
      }
    }
  };
  const watchers = [watch(claims, purge), watch(quarantine, purge)];
  try {
    // Each file is also deleted on its own at a moment spread over the window in which intake takes
    // it (stable after 100 ms, scanned every 50 ms), so some deletions land mid-step.
    const deletions: Promise<void>[] = [];
    for (let i = 0; i < 80; i++) {
      const path = join(edge.inbox, `junk-${i}.dcm`);
      writeFileSync(path, `not dicom ${i} `.repeat(400_000 + i));
      deletions.push(
        new Promise((resolve) =>
          setTimeout(
            () => {
              rmSync(path, { force: true });
              resolve();
            },
            100 + ((i * 37) % 160),
          ),
        ),
      );
      await new Promise((r) => setTimeout(r, 10 + (i % 7) * 25));
    }
    await Promise.all(deletions);
    for (const w of watchers) w.close();
    await new Promise((r) => setTimeout(r, 1000));
    assert.ok(edge.alive(), `the edge process is alive (exit ${edge.child.exitCode})`);
    // Intake still works after the attack: a real instance is spooled and processed.
    const { uid, bytes } = mrSmallWithUid(1);
    writeFileSync(join(edge.inbox, 'after-attack.dcm'), bytes);
    await waitFor('the image after the attack is processed', () => ledger(edge.dataDir).get(uid) === 'processed', 60_000, 100);
    const logs = edge.logs();
    assert.ok(!logs.some((l) => /unhandled/i.test(l.msg)), 'nothing reached the last-resort handler');
    assert.ok(
      logs.every((l) => l.code !== 'VIGIL_INTERNAL'),
      `no internal errors: ${JSON.stringify(logs.filter((l) => l.code === 'VIGIL_INTERNAL'))}`,
    );
    // Every quarantined file that is still there has its reason beside it.
    const names = readdirSync(quarantine);
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      assert.ok(names.includes(name.replace(/\.json$/, '.dcm')), `${name} names a file that is in quarantine`);
    }
  } finally {
    for (const w of watchers) w.close();
    await edge.stop();
    dir.remove();
  }
});

test('robustness: random churn (create, delete, truncate, replace) — alive, and every file that stayed is taken exactly once', async () => {
  const dir = makeTempDir('churn');
  const edge = await startEdge(dir.path, 'edge-churn');
  // Every version of every file carries an identity: a DICOM instance its SOP Instance UID (kept by
  // an in-place truncation, which makes a new version of the same instance), a junk file a marker.
  type Version = { kind: 'dicom'; uid: string } | { kind: 'junk'; marker: string };
  const current = new Map<string, Version>();
  const allUids = new Set<string>();
  const allMarkers = new Set<string>();
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  let counter = 1000;
  const write = (name: string) => {
    const path = join(edge.inbox, name);
    if (random() < 0.6) {
      const { uid, bytes } = mrSmallWithUid(counter++);
      writeFileSync(path, bytes);
      current.set(name, { kind: 'dicom', uid });
      allUids.add(uid);
    } else {
      const marker = `JUNK-${counter++}-`;
      writeFileSync(path, `${marker}${'x'.repeat(200 + Math.floor(random() * 3000))}`);
      current.set(name, { kind: 'junk', marker });
      allMarkers.add(marker);
    }
  };
  const ops = { created: 0, deleted: 0, truncated: 0, replaced: 0 };
  try {
    const started = Date.now();
    // Bounded in time and count; each operation on a name the intake may have taken already.
    for (let step = 0; step < 2500 && Date.now() - started < 8000; step++) {
      const name = `f-${Math.floor(random() * 24)}.dcm`;
      const path = join(edge.inbox, name);
      const exists = existsSync(path);
      if (!exists) current.delete(name);
      const roll = random();
      try {
        if (!exists) {
          write(name);
          ops.created += 1;
        } else if (roll < 0.3) {
          rmSync(path);
          current.delete(name);
          ops.deleted += 1;
        } else if (roll < 0.55) {
          // In place: a DICOM version keeps its UID (the header survives up to 800 bytes); a junk one its marker.
          truncateSync(path, 400 + Math.floor(random() * 2000));
          ops.truncated += 1;
        } else {
          write(name);
          ops.replaced += 1;
        }
      } catch (error) {
        // The intake took the file between our check and our step: the name is free again.
        if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
        current.delete(name);
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * 12)));
    }
    assert.ok(edge.alive(), 'alive after the churn');
    const stayed = [...current.values()];
    await waitFor(
      'inbox and claims empty, nothing left spooled',
      () => {
        const left = readdirSync(edge.inbox).filter((n) => n !== '.vigil-taking');
        const claimed = existsSync(join(edge.inbox, '.vigil-taking')) ? readdirSync(join(edge.inbox, '.vigil-taking')) : [];
        return left.length === 0 && claimed.length === 0 && ![...ledger(edge.dataDir).values()].includes('spooled');
      },
      120_000,
      200,
    );
    assert.ok(edge.alive(), 'alive after draining');
    const states = ledger(edge.dataDir);
    const quarantine = join(edge.dataDir, 'quarantine');
    const quarantined = readdirSync(quarantine)
      .filter((n) => n.endsWith('.dcm'))
      .map((n) => readFileSync(join(quarantine, n)).toString('latin1'));
    const count = (v: Version) =>
      v.kind === 'dicom'
        ? quarantined.filter((q) => q.includes(v.uid)).length + (states.get(v.uid) === 'processed' ? 1 : 0)
        : quarantined.filter((q) => q.startsWith(v.marker)).length;
    for (const v of stayed) assert.equal(count(v), 1, `a file that stayed is taken exactly once: ${JSON.stringify(v)}`);
    for (const uid of allUids) assert.ok(count({ kind: 'dicom', uid }) <= 1, `at most once: ${uid}`);
    for (const marker of allMarkers) assert.ok(count({ kind: 'junk', marker }) <= 1, `at most once: ${marker}`);
    for (const name of readdirSync(quarantine).filter((n) => n.endsWith('.dcm'))) {
      assert.ok(existsSync(join(quarantine, name.replace(/\.dcm$/, '.json'))), `${name} has its reason`);
    }
    assert.ok(ops.deleted > 20 && ops.truncated > 20 && ops.replaced > 20, `churn did each kind of step: ${JSON.stringify(ops)}`);
    assert.ok(
      edge.logs().every((l) => l.code !== 'VIGIL_INTERNAL'),
      'no internal errors in the log',
    );
  } finally {
    await edge.stop();
    dir.remove();
  }
});
