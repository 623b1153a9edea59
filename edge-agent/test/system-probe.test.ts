import assert from 'node:assert/strict';
import { chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { MISSING_COMMAND_RECHECK_MS, parseNvidiaSmi, readGpus, utilisationBetween } from '../src/telemetry/system-probe.js';

test('nvidia-smi CSV is parsed into GPU readings; malformed lines are skipped', () => {
  const csv = '0, NVIDIA A10, 37, 2048, 23028, 54\n1, NVIDIA A10, [N/A], 0, 23028, 40\n\n';
  assert.deepEqual(parseNvidiaSmi(csv), [
    {
      index: 0,
      name: 'NVIDIA A10',
      utilizationPct: 37,
      memoryUsedBytes: 2048 * 1048576,
      memoryTotalBytes: 23028 * 1048576,
      temperatureC: 54,
    },
  ]);
});

test('no nvidia-smi means no GPUs, not an error', async () => {
  assert.deepEqual(await readGpus('/nonexistent/nvidia-smi'), []);
});

test('GPU sampling runs the command it is given (FAKE nvidia-smi: this machine has no GPU)', async () => {
  const dir = makeTempDir('fake-gpu');
  try {
    const fake = join(dir.path, 'fake-nvidia-smi');
    writeFileSync(fake, '#!/bin/sh\necho "0, FAKE GPU FOR TESTS, 12, 100, 1000, 33"\n');
    chmodSync(fake, 0o755);
    const gpus = await readGpus(fake);
    assert.equal(gpus.length, 1);
    assert.equal(gpus[0]?.name, 'FAKE GPU FOR TESTS');
    assert.equal(gpus[0]?.utilizationPct, 12);
  } finally {
    dir.remove();
  }
});

test('CPU utilisation between readings is bounded 0..100', () => {
  assert.equal(utilisationBetween({ idle: 100, total: 200 }, { idle: 150, total: 300 }), 50);
  assert.equal(utilisationBetween({ idle: 100, total: 200 }, { idle: 100, total: 200 }), 0);
});

test('a missing nvidia-smi is not spawned again for ten minutes, then looked for again (FAKE nvidia-smi)', async () => {
  const dir = makeTempDir('late-gpu');
  try {
    const late = join(dir.path, 'nvidia-smi');
    const t0 = Date.now();
    assert.deepEqual(await readGpus(late, t0), [], 'missing: no GPUs');
    // The command appears (a driver installed); within the recheck window it is not looked for...
    writeFileSync(late, '#!/bin/sh\necho "0, FAKE LATE GPU, 5, 10, 100, 30"\n');
    chmodSync(late, 0o755);
    assert.deepEqual(await readGpus(late, t0 + MISSING_COMMAND_RECHECK_MS - 1), [], 'not spawned again yet');
    // ...and after it, it is.
    assert.equal((await readGpus(late, t0 + MISSING_COMMAND_RECHECK_MS + 1))[0]?.name, 'FAKE LATE GPU');
  } finally {
    dir.remove();
  }
});
