import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';

const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

test('vigil-edge serve refuses a bad config with the key named and exit status 2', () => {
  const dir = makeTempDir('edge-cli');
  try {
    const config = join(dir.path, 'edge.yaml');
    writeFileSync(config, `clinicId: clinic-a\ndeviceId: "bad/id"\ndataDir: ${dir.path}\n`);
    const run = spawnSync(process.execPath, [EDGE_BIN, 'serve', '--config', config], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(run.status, 2);
    assert.match(run.stderr, /VIGIL_CONFIG_INVALID: config key deviceId/);
    const missing = spawnSync(process.execPath, [EDGE_BIN, 'serve', '--config', join(dir.path, 'nope.yaml')], {
      encoding: 'utf8',
    });
    assert.match(missing.stderr, /VIGIL_CONFIG_UNREADABLE/);
  } finally {
    dir.remove();
  }
});
