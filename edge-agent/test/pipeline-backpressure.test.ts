// A flood of mammography-sized images (30 × 27 MB over DICOM C-STORE from three senders at once)
// must slow nothing but the queue: intake streams to the spool on disk, the pipeline keeps at most
// `imaging.concurrency` images in memory, and the process's memory stays bounded.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { promisify } from 'node:util';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { freePort } from '../../scripts/harness/free-port.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { planCohort } from '../../scripts/phantoms/cohort-plan.js';
import { renderMammogram } from '../../scripts/phantoms/render-mammogram.js';
import { writeMammogram } from '../../scripts/phantoms/write-dicom.js';

const run = promisify(execFile);
const FLOOD = 30;
const dir = makeTempDir('flood');
let agent: EdgeAgent;
let port = 0;
const files: string[] = [];

before(async () => {
  const [patient] = planCohort(919, 1, 1);
  assert.ok(patient);
  const o = {
    patient,
    laterality: 'L',
    view: 'CC',
    visitIndex: 0,
    rows: 4096,
    columns: 3328,
    pixelSpacingMm: 0.07,
    seed: 919,
  } as const;
  const source = join(dir.path, 'source.dcm');
  await writeMammogram({ ...o, path: source, pixels: renderMammogram(o).pixels });
  for (let i = 0; i < FLOOD; i++) {
    const file = join(dir.path, `flood-${i}.dcm`);
    copyFileSync(source, file);
    await run('dcmodify', ['-nb', '-m', `(0008,0018)=2.25.919000${i}`, file]);
    files.push(file);
  }
  port = await freePort();
  agent = new EdgeAgent(
    loadEdgeConfig(undefined, {
      VIGIL_DATA_DIR: join(dir.path, 'edge'),
      VIGIL_MQTT__URL: 'mqtt://127.0.0.1:1',
      VIGIL_MQTT__PASSWORD: 'no-broker-in-this-test',
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(port),
      VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
      VIGIL_DEID__SECRET: 'flood-test-pseudonym-secret',
      VIGIL_MODEL__DIR: BUNDLED_MODEL,
      VIGIL_IMAGING__CONCURRENCY: '2',
      VIGIL_TELEMETRY__INTERVAL_S: '3600',
    }),
  );
  await agent.start();
});

after(async () => {
  await agent?.stop();
  dir.remove();
});

it('keeps memory bounded and in-flight images at the configured concurrency under a flood', async (t) => {
  global.gc?.();
  const baseline = process.memoryUsage().rss;
  let peak = baseline;
  let maxInFlight = 0;
  let maxQueued = 0;
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    const pipeline = agent.intake?.pipeline as unknown as { active: number; queue: string[] };
    maxInFlight = Math.max(maxInFlight, pipeline.active);
    maxQueued = Math.max(maxQueued, pipeline.queue.length);
  }, 10);
  const sent = performance.now();
  // Three modalities at once: intake outpaces processing.
  await Promise.all(
    [0, 1, 2].map((k) =>
      run(
        'storescu',
        ['-aec', 'VIGIL', '-aet', `FLOODER${k}`, '127.0.0.1', String(port), ...files.filter((_, i) => i % 3 === k)],
        {
          maxBuffer: 1 << 24,
        },
      ),
    ),
  );
  const sendS = (performance.now() - sent) / 1000;
  while (agent.counters.processed + agent.counters.quarantined < FLOOD) await new Promise((r) => setTimeout(r, 50));
  clearInterval(sampler);
  const growthMb = (peak - baseline) / 1e6;
  t.diagnostic(
    `flood of ${FLOOD} × 27 MB sent in ${sendS.toFixed(1)} s, processed in ${((performance.now() - sent) / 1000).toFixed(1)} s; ` +
      `max in flight ${maxInFlight}, max queued ${maxQueued}, RSS growth ${growthMb.toFixed(0)} MB`,
  );
  assert.equal(agent.counters.processed, FLOOD);
  assert.ok(maxInFlight <= 2, `in flight ${maxInFlight}`);
  // Whatever queues up waits as a path to a spooled file, never as pixels in memory.
  assert.ok(maxQueued + maxInFlight <= FLOOD);
  // Holding the flood in memory would take ≥ 810 MB for the files alone (and as much again decoded).
  assert.ok(growthMb < 450, `RSS grew ${growthMb.toFixed(0)} MB`);
});
