// Encryption at rest at the edge: what it keeps on disk (spool, quarantine, overlays, outbox
// payloads) holds none of the plaintext; key rotation keeps old records readable; kill -9 mid-write
// leaves nothing unreadable; a missing or wrong key stops the start with a code.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/harness/free-port.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';
import { AtRestCipher, sealedKeyId } from '../src/at-rest/at-rest-cipher.js';
import { writeNewKeyFile } from '../src/at-rest/at-rest-keys.js';
import { Outbox } from '../src/outbox/outbox.js';

const run = promisify(execFile);
const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');
const MODEL = join(import.meta.dirname, '../../models/vigil-demo');
const dir = makeTempDir('at-rest');
after(() => dir.remove());

test('sealed records open with their key, fail authentication when touched, and survive a key rotation', () => {
  const k1 = randomBytes(32);
  const k2 = randomBytes(32);
  const before = new AtRestCipher(k1);
  const old = before.seal(Buffer.from('result of the old key'), 'msg-1');
  assert.equal(before.open(old, 'msg-1').toString(), 'result of the old key');
  assert.throws(() => before.open(old, 'msg-2'), { code: 'VIGIL_AT_REST_DATA_INVALID' }, 'bound to its record id');
  const flipped = Buffer.from(old);
  flipped[flipped.length - 20] = (flipped[flipped.length - 20] as number) ^ 1;
  assert.throws(() => before.open(flipped, 'msg-1'), { code: 'VIGIL_AT_REST_DATA_INVALID' });
  assert.throws(() => before.open(old.subarray(0, 30), 'msg-1'), { code: 'VIGIL_AT_REST_DATA_INVALID' });

  const rotated = new AtRestCipher(k2, [k1]);
  const fresh = rotated.seal(Buffer.from('result of the new key'), 'msg-3');
  assert.equal(rotated.open(old, 'msg-1').toString(), 'result of the old key', 'old data readable after rotation');
  assert.equal(sealedKeyId(fresh), rotated.keyIds[0], 'new writes use the new key');
  assert.notEqual(sealedKeyId(fresh), sealedKeyId(old));
  assert.throws(
    () => new AtRestCipher(k2).open(old, 'msg-1'),
    { code: 'VIGIL_AT_REST_DATA_INVALID' },
    'retired key dropped too early',
  );
});

function startEdge(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [EDGE_BIN, 'serve'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

function filesIn(path: string): string[] {
  return existsSync(path) ? readdirSync(path).map((n) => join(path, n)) : [];
}

test('spool, quarantine and outbox hold no plaintext; kill -9 mid-intake leaves everything readable; rotation and wrong keys', async () => {
  const data = join(dir.path, 'edge');
  const keyFile = join(dir.path, 'keys/k1.key');
  writeNewKeyFile(keyFile);
  const phantoms = join(dir.path, 'phantoms');
  await generatePhantoms({ out: phantoms, patients: 2, visits: 1, seed: 777, rows: 512, columns: 416 });
  const dcms = readdirSync(phantoms, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.dcm'))
    .map((f) => join(phantoms, f));
  assert.ok(dcms.length >= 4);
  const sample = readFileSync(dcms[0] as string);
  const pixelRun = sample.subarray(sample.length - 2048, sample.length - 2048 + 48);
  const uid = /1\.2\.[0-9.]{20,}/.exec(sample.toString('latin1'))?.[0] as string;
  const port = await freePort();
  const watch = join(dir.path, 'watch');
  const env = {
    VIGIL_CLINIC_ID: 'clinic-e',
    VIGIL_DEVICE_ID: 'edge-e',
    VIGIL_DATA_DIR: data,
    // No hub: every result stays in the outbox, where it can be inspected.
    VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
    VIGIL_MQTT__PASSWORD: 'unused-password-123',
    VIGIL_DICOM__ENABLED: 'true',
    VIGIL_DICOM__PORT: String(port),
    VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
    VIGIL_WATCH_FOLDER__PATH: watch,
    VIGIL_DEID__SECRET: 'at-rest-test-deid-secret-0123456789',
    VIGIL_MODEL__DIR: MODEL,
    VIGIL_OVERLAY__ENABLED: 'true',
    VIGIL_STORAGE__ENCRYPTION__ENABLED: 'true',
    VIGIL_STORAGE__ENCRYPTION__KEY_FILE: keyFile,
    VIGIL_TELEMETRY__INTERVAL_S: '3600',
    // No hub on purpose: the broker-unreachable warnings would only be noise.
    VIGIL_LOG_LEVEL: 'error',
  };
  let edge = startEdge(env);
  const storescu = (files: string[]) => run('storescu', ['-aec', 'VIGIL', '-aet', 'MOD', '127.0.0.1', String(port), ...files]);
  await waitFor(
    'edge SCP up',
    () =>
      storescu([dcms[0] as string]).then(
        () => true,
        () => false,
      ),
    120_000,
    300,
  );
  // A file the watched folder cannot use: quarantined, encrypted, with its reason.
  writeFileSync(join(watch, 'junk.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), pixelRun, Buffer.from(uid)]));
  // The rest arrive at once, and the agent dies right after they were acknowledged (spooled, fsynced).
  await storescu(dcms.slice(1));
  edge.kill('SIGKILL');
  await new Promise((resolve) => edge.once('exit', resolve));

  const key1 = new AtRestCipher(Buffer.from(readFileSync(keyFile, 'utf8').trim(), 'base64'));
  const stored = [
    ...filesIn(join(data, 'spool/ready')),
    ...filesIn(join(data, 'quarantine')).filter((f) => f.endsWith('.dcm')),
    ...filesIn(join(data, 'overlays')),
  ];
  const outboxFiles = filesIn(data).filter((f) => f.includes('outbox.sqlite'));
  for (const file of [...stored, ...outboxFiles]) {
    const bytes = readFileSync(file);
    assert.ok(!bytes.includes(pixelRun), `${file} holds no pixel bytes in clear`);
    assert.ok(!bytes.includes(Buffer.from(uid)), `${file} holds no SOP Instance UID in clear`);
    assert.ok(!bytes.includes(Buffer.from('vigil-demo')), `${file} holds no result field in clear`);
  }
  // Nothing unreadable after the kill: every spooled/quarantined file opens (and parses as DICOM).
  for (const file of stored) {
    assert.ok(sealedKeyId(readFileSync(file)), `${file} is encrypted`);
    const plain = key1.open(readFileSync(file));
    if (file.endsWith('.dcm')) assert.equal(plain.subarray(128, 132).toString(), 'DICM');
  }
  const outbox = new Outbox({ path: join(data, 'outbox.sqlite'), maxBytes: 1e9, atRest: key1 });
  const queued = outbox.after(0, 10_000);
  outbox.close();
  for (const m of queued) JSON.parse(m.payload.toString('utf8'));
  assert.ok(queued.length + filesIn(join(data, 'spool/ready')).length >= 1, 'the kill left work behind to check');

  // Rotate: a new current key, the old one retired; the agent starts, finishes the spool, and new
  // results are written with the new key while the old ones stay readable.
  const keyFile2 = join(dir.path, 'keys/k2.key');
  writeNewKeyFile(keyFile2);
  const rotated = {
    ...env,
    VIGIL_STORAGE__ENCRYPTION__KEY_FILE: keyFile2,
    VIGIL_STORAGE__ENCRYPTION__RETIRED_KEY_FILES: JSON.stringify([keyFile]),
  };
  // A wrong key (the new one alone) is refused at start, naming the key data was written with.
  const wrong = await run(process.execPath, [EDGE_BIN, 'serve'], {
    env: { ...process.env, ...env, VIGIL_STORAGE__ENCRYPTION__KEY_FILE: keyFile2 },
  }).then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  );
  assert.match(wrong, /VIGIL_AT_REST_KEY_INVALID/);
  const missing = await run(process.execPath, [EDGE_BIN, 'serve'], {
    env: { ...process.env, ...env, VIGIL_STORAGE__ENCRYPTION__KEY_FILE: join(dir.path, 'nope.key') },
  }).then(
    () => '',
    (error: { stderr: string }) => error.stderr,
  );
  assert.match(missing, /VIGIL_AT_REST_KEY_INVALID/);

  edge = startEdge(rotated);
  const both = new AtRestCipher(Buffer.from(readFileSync(keyFile2, 'utf8').trim(), 'base64'), [key1Material(keyFile)]);
  await waitFor('spool drained after the restart', () => filesIn(join(data, 'spool/ready')).length === 0, 180_000, 250);
  await waitFor(
    'every image has its result in the outbox',
    () => {
      const o = new Outbox({ path: join(data, 'outbox.sqlite'), maxBytes: 1e9, atRest: both });
      const n = o.stats().results;
      o.close();
      return n >= dcms.length;
    },
    180_000,
    250,
  );
  edge.kill('SIGTERM');
  await new Promise((resolve) => edge.once('exit', resolve));
  const status = await run(process.execPath, [EDGE_BIN, 'at-rest', 'status'], { env: { ...process.env, ...rotated } });
  const inventory = JSON.parse(status.stdout) as { keys: string[]; onDisk: Record<string, { files: number; outbox: number }> };
  assert.equal(inventory.keys[0], both.keyIds[0]);
  assert.ok((inventory.onDisk[both.keyIds[0] as string]?.outbox ?? 0) > 0, 'new records under the new key');
  assert.equal(inventory.onDisk.plaintext, undefined, 'nothing in clear');
});

function key1Material(path: string): Buffer {
  return Buffer.from(readFileSync(path, 'utf8').trim(), 'base64');
}
