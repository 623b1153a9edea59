// Issue 14's fault tests for results going back to the clinic. The PACS (storescp) is down when the
// study's SR is built; the edge keeps retrying; it is killed with SIGKILL while the SR waits; after the
// PACS comes up and the edge restarts, the SR arrives exactly once. A destination that refuses the
// association (Orthanc, wrong called AE title) gets a coded error after the configured refusals and
// no more attempts, shown in the device's telemetry at the hub; the rest of the pipeline is unaffected.
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { PacsStore } from '@vigil/edge-agent';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeEnv, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { OrthancServer, StoreScp } from '../../scripts/harness/pacs-servers.js';
import { readReport } from '../../scripts/harness/sr-reader.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';

const run = promisify(execFile);
const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');

test('PACS down, edge killed with SIGKILL, PACS up: the SR arrives once; a refusing destination gets a coded error and stops', async () => {
  const dir = makeTempDir('pacs-faults');
  const hub = await startTestHub();
  const storescp = new StoreScp();
  const orthanc = new OrthancServer();
  let edge: ChildProcess | undefined;
  const deliveries = () => {
    const store = new PacsStore(join(dir.path, 'edge', 'pacs.sqlite'));
    try {
      return store.all();
    } finally {
      store.close();
    }
  };
  try {
    await Promise.all([storescp.reserve(), orthanc.start()]);
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 1,
      visits: 1,
      seed: 9292,
      rows: 1024,
      columns: 832,
    });
    const visit = truth.patients[0]?.visits[0];
    assert.ok(visit);
    const device = { clinicId: 'clinic-a', deviceId: 'mg-2' };
    const password = await hub.addDevice(device.clinicId, device.deviceId);
    const scpPort = await freePort();
    const env = {
      ...edgeEnv({ ...device, password, mqttUrl: hub.mqttUrl, dataDir: join(dir.path, 'edge'), telemetryIntervalS: 0.5 }),
      VIGIL_MODEL__DIR: BUNDLED_MODEL,
      VIGIL_MODEL__THREADS: '1',
      VIGIL_DEID__SECRET: 'pacs-fault-pseudonym-secret-0123456789',
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(scpPort),
      VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['STORESCU']),
      VIGIL_PACS__ENABLED: 'true',
      VIGIL_PACS__STUDY_SETTLE_S: '1',
      VIGIL_PACS__OBJECTS: JSON.stringify(['sr']),
      VIGIL_PACS__RETRY_MIN_MS: '200',
      VIGIL_PACS__RETRY_MAX_MS: '1000',
      VIGIL_PACS__DESTINATIONS: JSON.stringify([
        { name: 'storescp', kind: 'dimse', port: storescp.port, calledAeTitle: storescp.aeTitle, timeoutMs: 2000 },
        {
          name: 'refusing',
          kind: 'dimse',
          port: orthanc.dicomPort,
          calledAeTitle: 'NOT-ORTHANC',
          maxRefusals: 2,
          timeoutMs: 2000,
        },
      ]),
    };
    const start = () => {
      edge = spawn(process.execPath, [EDGE_BIN, 'serve'], {
        env: { ...process.env, ...env, VIGIL_LOG_LEVEL: 'warn' },
        stdio: 'ignore',
      });
    };
    start();
    const files = visit.images.map((i) => join(dir.path, 'phantoms', i.file));
    await waitFor(
      'the edge SCP up',
      async () => {
        try {
          await run('echoscu', ['-aec', 'VIGIL', '-aet', 'STORESCU', '127.0.0.1', String(scpPort)]);
          return true;
        } catch {
          return false;
        }
      },
      60_000,
    );
    await run('storescu', ['-aec', 'VIGIL', '-aet', 'STORESCU', '127.0.0.1', String(scpPort), ...files]);
    await waitFor('four results at the hub', async () => (await hub.hub.state.countResults()) === 4, 120_000);

    // The SR is built and the PACS is down: attempts fail and it stays queued.
    await waitFor('retrying the unreachable PACS', () =>
      deliveries().some((d) => d.destination === 'storescp' && d.attempts >= 2 && d.state === 'pending'),
    );
    const pending = deliveries().find((d) => d.destination === 'storescp');
    assert.equal(pending?.lastErrorCode, 'VIGIL_PACS_UNREACHABLE');
    // The refusing destination gives up after two refusals, with its code.
    await waitFor('the refusal given up', () => deliveries().some((d) => d.destination === 'refusing' && d.state === 'failed'));
    const refused = deliveries().find((d) => d.destination === 'refusing');
    assert.equal(refused?.lastErrorCode, 'VIGIL_PACS_REFUSED');
    assert.equal(refused?.attempts, 2, 'no attempt after the configured refusals');
    assert.match(refused?.lastError ?? '', /association rejected/);
    // …and the hub sees it in the device's telemetry.
    await waitFor('PACS state in telemetry', async () => {
      const states = await hub.hub.state.listDeviceStates();
      const pacs = states.find((s) => s.deviceId === device.deviceId)?.lastTelemetry?.pacs ?? [];
      return (
        pacs.find((p) => p.destination === 'refusing')?.state === 'failing' &&
        pacs.find((p) => p.destination === 'storescp')?.state === 'retrying'
      );
    });

    // Killed with the SR still queued; the PACS comes up; the edge restarts.
    edge?.kill('SIGKILL');
    await new Promise((resolve) => edge?.once('exit', resolve));
    await storescp.start();
    start();
    await waitFor('the SR delivered after the restart', () =>
      deliveries().some((d) => d.destination === 'storescp' && d.state === 'delivered'),
    );
    assert.equal(storescp.files().length, 1, 'exactly once');
    const report = await readReport(storescp.files()[0] as string);
    assert.deepEqual([...report.references].sort(), visit.images.map((i) => i.sopInstanceUid).sort());
    const refusedAfter = deliveries().find((d) => d.destination === 'refusing');
    assert.deepEqual([refusedAfter?.state, refusedAfter?.attempts], ['failed', 2], 'a given-up object stays given up');
    assert.equal(await hub.hub.state.countResults(), 4, 'the results went on to the hub regardless');
  } finally {
    edge?.kill('SIGKILL');
    await Promise.all([storescp.dispose(), orthanc.dispose()]);
    await hub.stop();
    dir.remove();
  }
});
