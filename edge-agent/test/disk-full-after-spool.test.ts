// Second outside review, item 7: the disk fills after an image was spooled (acknowledged to the
// modality) but before its result, overlay and outbox record are written. A real edge process keeps
// its data directory on a small tmpfs; an image arrives over C-STORE, the process is paused the moment
// storescu is answered, the disk is filled, the process resumes. The image must stay in the spool
// (never quarantined, no empty reason file), the log must say storage is full, and once space
// returns the image is processed and its result is in the outbox, once.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { freePort } from '../../scripts/harness/free-port.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';
import { Outbox } from '../src/outbox/outbox.js';

const run = promisify(execFile);
const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

const listing = (path: string) => (existsSync(path) ? readdirSync(path) : []);

test('a disk that fills after spooling keeps the image spooled and retried, and it is processed once space returns', async (t) => {
  const dir = makeTempDir('disk-full');
  const mountPoint = join(dir.path, 'small-disk');
  mkdirSync(mountPoint);
  try {
    await run('mount', ['-t', 'tmpfs', '-o', 'size=24m', 'tmpfs', mountPoint]);
  } catch (error) {
    // Mounting needs CAP_SYS_ADMIN (CI and developers' machines run as root and have it).
    t.skip(`cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`);
    dir.remove();
    return;
  }
  let edge: ChildProcess | undefined;
  let log = '';
  const data = join(mountPoint, 'edge');
  const filler = join(mountPoint, 'filler');
  try {
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 1,
      visits: 1,
      seed: 9611,
      rows: 512,
      columns: 416,
    });
    const files = (truth.patients[0]?.visits[0]?.images ?? []).map((i) => join(dir.path, 'phantoms', i.file));
    const port = await freePort();
    edge = spawn(process.execPath, [EDGE_BIN, 'serve'], {
      env: {
        ...process.env,
        VIGIL_CLINIC_ID: 'clinic-f',
        VIGIL_DEVICE_ID: 'edge-f',
        VIGIL_DATA_DIR: data,
        VIGIL_MQTT__URL: `mqtt://127.0.0.1:${await freePort()}`,
        VIGIL_MQTT__PASSWORD: 'unused-password-123',
        VIGIL_MODEL__DIR: BUNDLED_MODEL,
        VIGIL_MODEL__THREADS: '1',
        VIGIL_DEID__SECRET: 'disk-full-test-pseudonym-secret-0123',
        VIGIL_DICOM__ENABLED: 'true',
        VIGIL_DICOM__PORT: String(port),
        VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
        // The intake's own low-space guard would refuse new images; this test is about the ones
        // already taken, so it is set below what the filled disk leaves.
        VIGIL_INTAKE__MIN_FREE_BYTES: '0',
        VIGIL_OVERLAY__ENABLED: 'true',
        VIGIL_TELEMETRY__INTERVAL_S: '3600',
        VIGIL_LOG_LEVEL: 'info',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    for (const s of [edge.stdout, edge.stderr]) s?.on('data', (b: Buffer) => (log += b.toString()));
    const storescu = (file: string) => run('storescu', ['-aec', 'VIGIL', '-aet', 'MOD', '127.0.0.1', String(port), file]);
    await waitFor(
      'edge SCP up',
      () =>
        run('echoscu', ['-aec', 'VIGIL', '-aet', 'MOD', '127.0.0.1', String(port)]).then(
          () => true,
          () => false,
        ),
      120_000,
      300,
    );
    const ready = join(data, 'spool', 'ready');
    const quarantine = join(data, 'quarantine');

    // Pause the edge as soon as the image is acknowledged, then fill the disk. An image that the
    // edge finished before the pause proves nothing: try the next view.
    let caught: string | undefined;
    for (const file of files) {
      await storescu(file);
      edge.kill('SIGSTOP');
      if (listing(ready).length > 0) {
        caught = file;
        break;
      }
      edge.kill('SIGCONT');
    }
    assert.ok(caught, 'an image was caught in the spool before it was processed');
    await run('dd', ['if=/dev/zero', `of=${filler}`, 'bs=64k']).catch(() => undefined);
    const { bavail, bsize } = statfsSync(mountPoint);
    assert.ok(bavail * bsize < 64 * 1024, `the disk is full (${bavail * bsize} bytes left)`);
    edge.kill('SIGCONT');

    await waitFor('the edge reports storage full', () => log.includes('VIGIL_INTAKE_STORAGE_FULL'), 120_000, 200);
    // Give it a retry or two while the disk stays full.
    await new Promise((resolve) => setTimeout(resolve, 6000));
    assert.equal(listing(ready).length, 1, 'the image is still in the spool');
    assert.deepEqual(listing(quarantine), [], 'nothing quarantined, no reason file');
    assert.doesNotMatch(log, /quarantined/);

    rmSync(filler);
    await waitFor('the image processed once space returned', () => listing(ready).length === 0, 120_000, 250);
    edge.kill('SIGTERM');
    await new Promise((resolve) => edge?.once('exit', resolve));
    edge = undefined;
    assert.deepEqual(listing(quarantine), []);
    const outbox = new Outbox({ path: join(data, 'outbox.sqlite'), maxBytes: 1e9 });
    const results = outbox.after(0, 100).filter((m) => m.kind === 'results');
    outbox.close();
    // Every image sent (the ones before the caught one were processed normally), each once.
    const sent = files.indexOf(caught as string) + 1;
    assert.equal(results.length, sent, `${results.length} results for ${sent} images`);
  } finally {
    edge?.kill('SIGCONT');
    edge?.kill('SIGKILL');
    await new Promise((resolve) => setTimeout(resolve, 200));
    await run('umount', ['-l', mountPoint]).catch(() => undefined);
    dir.remove();
  }
});
