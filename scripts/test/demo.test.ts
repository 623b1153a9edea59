import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../harness/temp-dir.js';

test('npm run demo: hub and three clinics come online, telemetry is stored, credentials are written', () => {
  const dir = makeTempDir('demo');
  try {
    const root = join(import.meta.dirname, '../..');
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', join(root, 'scripts/demo.ts'), '--duration', '9', '--dir', dir.path],
      {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
      },
    );
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /3\/3 devices online, [1-9]\d* telemetry samples stored/);
    // The simulated modalities' studies went through DICOM intake and were decoded at every clinic.
    for (const device of ['north-mg-1', 'south-mg-1', 'east-mg-1']) {
      assert.match(
        run.stdout,
        new RegExp(`${device}\\s+online\\s+images\\s+([4-9]|\\d{2,}) in /\\s+([4-9]|\\d{2,}) done`),
        device,
      );
    }
    assert.match(run.stdout, /east-mg-1 .* 1 quarantined/, 'the corrupt file was quarantined');
    assert.match(run.stdout, /telemetry samples stored, [1-9]\d* results stored/, 'inference results reached the hub');
    assert.match(run.stdout, /Vigil demo stopped/);
    const file = join(dir.path, 'demo-credentials.json');
    const credentials = JSON.parse(readFileSync(file, 'utf8')) as { devices: { deviceId: string; password: string }[] };
    assert.equal(credentials.devices.length, 3);
    assert.ok(credentials.devices.every((d) => d.password.length >= 24));
    assert.equal(statSync(file).mode & 0o077, 0, 'credentials file is private');
  } finally {
    dir.remove();
  }
});
