// The demo's PACS stand-ins listen on loopback only (second outside review): a clinic network
// cannot reach them, and they still answer C-ECHO from the edge on the same machine.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startDemoPacs } from '../demo/demo-pacs.js';
import { freePort } from '../harness/free-port.js';
import { makeTempDir } from '../harness/temp-dir.js';

const run = promisify(execFile);

test('a demo PACS binds 127.0.0.1 and answers C-ECHO there', async () => {
  const dir = makeTempDir('demo-pacs');
  const port = await freePort();
  const pacs = await startDemoPacs(join(dir.path, 'pacs'), port);
  try {
    const { stdout } = await run('ss', ['-Hltn', `sport = :${port}`]);
    const local = stdout
      .trim()
      .split('\n')
      .map((l) => l.trim().split(/\s+/)[3]);
    assert.deepEqual(local, [`127.0.0.1:${port}`], 'one listener, on loopback');
    await run('echoscu', ['-aec', 'DEMO_PACS', '127.0.0.1', String(port)]);
  } finally {
    pacs.close();
    dir.remove();
  }
});
