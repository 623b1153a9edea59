// the demo's simulated modality renders in a worker thread, once per study, so the
// process it shares with the hub keeps its main thread for the hub. dcmtk's storescp is the receiver.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { pickFollowupPatients } from '../demo/demo-cohort.js';
import { SimulatedModalities } from '../demo/modality-simulator.js';
import { freePort } from '../harness/free-port.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { waitFor } from '../harness/wait-for.js';

test('studies are rendered in a worker thread, once; a repeated study is sent from the cache', async () => {
  const dir = makeTempDir('modality');
  const received = join(dir.path, 'received');
  const port = await freePort();
  mkdirSync(received);
  // +uf: a unique file name per received instance, so a resend is counted too.
  const pacs = spawn('storescp', ['-aet', 'VIGIL', '-od', received, '+uf', String(port)], { stdio: 'ignore' });
  const modality = new SimulatedModalities(join(dir.path, 'cache'));
  try {
    const [patient] = pickFollowupPatients(2026, 1, 2);
    assert.ok(patient);
    const send = () =>
      waitFor(
        'storescp accepts the study',
        () =>
          modality.sendStudy(port, patient, 0, 2026).then(
            (n) => n === 4,
            () => false,
          ),
        30_000,
        200,
      );
    await send();
    assert.equal(modality.lastRender?.rendered, 4, 'the first time, four images are rendered');
    assert.notEqual(modality.lastRender?.threadId, 0, 'not on the main thread');
    await send();
    assert.equal(modality.lastRender?.rendered, 0, 'a repeated study is not rendered again');
    assert.equal(readdirSync(received).length, 8, 'both sends reached the receiver');
  } finally {
    await modality.close();
    pacs.kill();
    dir.remove();
  }
});
