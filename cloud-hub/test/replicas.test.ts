// Hub replicas (issue 13): two `vigil-hub serve` processes share PostgreSQL and a models directory,
// sit behind a load balancer, and consume through an MQTT 5 shared subscription on Mosquitto; ten
// edges with end-to-end receipts stream 20 000 results. An ops user starts a rollout through the
// replica that does not hold the rollout lease (the holder carries it out). The holder is killed
// with SIGKILL mid-stream, mid-rollout, and the broker is restarted once: every result is stored
// exactly once, each growth alert is raised once, the leases (rollout ticks, overdue sweeps) move to
// the survivor with a higher epoch, and the rollout completes there.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import pg from 'pg';
import { login } from '../../scripts/harness/api-client.js';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import { HubProcess, replicaEnv } from '../../scripts/harness/hub-process.js';
import {
  BUNDLED_MODEL,
  BUNDLED_VERSION,
  generateSigningKey,
  modelVersion,
  packAndSign,
  phantomImages,
} from '../../scripts/harness/model-packages.js';
import { HUB_ACCOUNT, MosquittoServer, startMosquittoForDevices } from '../../scripts/harness/mosquitto.js';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { TcpBalancer } from '../../scripts/harness/tcp-balancer.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

const EDGES = 10;
// Each edge's stream is long enough to run before, during and after both faults (the thresholds below
// are fractions of it); 10 000 results, 2 500 patients' follow-up.
const PER_EDGE = 1000;

test('two replicas, one killed with SIGKILL mid-rollout and the broker restarted: every result and alert once, the rollout completes on the survivor', async () => {
  const dir = makeTempDir('replicas');
  const postgres = new PostgresServer();
  const mosquitto = new MosquittoServer();
  const replicas: HubProcess[] = [];
  const agents: EdgeAgent[] = [];
  const key = generateSigningKey();
  // Edges download model packages through the balancer, from whichever replica is alive.
  const balancer = new TcpBalancer(() => replicas.filter((r) => r.pid !== undefined).map((r) => r.httpPort));
  let db: pg.Client | undefined;
  try {
    await balancer.start();
    await postgres.start();
    const url = postgres.createDatabase('replicas');
    mosquitto.port = await freePort();
    for (const name of ['replica-1', 'replica-2']) {
      const hub = new HubProcess(join(dir.path, name), {
        ...replicaEnv({ name, stateUrl: url, brokerUrl: mosquitto.url, account: HUB_ACCOUNT }),
        VIGIL_CLUSTER__LEASE_TTL_MS: '3000',
        VIGIL_MODELS__DIR: join(dir.path, 'shared-models'),
        VIGIL_MODELS__TRUSTED_KEYS: JSON.stringify([key.publicKeyPem]),
        VIGIL_MODELS__PUBLIC_URL: balancer.url,
        VIGIL_ROLLOUT__TICK_MS: '500',
      });
      await hub.init();
      replicas.push(hub);
    }
    // Devices are registered with the hub (its fleet, rollout cohorts, the broker's ACL) and given
    // the same credentials on the broker.
    const devices = Array.from({ length: EDGES }, (_, i) => {
      const d = { clinicId: `clinic-${i % 3}`, deviceId: `edge-${i}` };
      return { ...d, password: (replicas[0] as HubProcess).addDevice(d.clinicId, d.deviceId) };
    });
    await startMosquittoForDevices(mosquitto, devices);
    await Promise.all(replicas.map((r) => r.start()));
    // The running model and a candidate, published once into the registry both replicas share.
    const [reference] = await phantomImages(join(dir.path, 'reference'), 1, 79);
    for (const [version, modelDir] of [
      [BUNDLED_VERSION, BUNDLED_MODEL],
      ['0.2.9', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.9'), '0.2.9')],
    ] as const) {
      const pkg = await packAndSign(modelDir, reference as string, join(dir.path, `${version}.vpkg`), key.privateKeyPem);
      writeFileSync(`${pkg.path}.sig.json`, JSON.stringify(pkg.signature));
      (replicas[0] as HubProcess).cli(['model', 'publish', pkg.path]);
    }
    const ops = JSON.parse((replicas[0] as HubProcess).cli(['user', 'add', 'ops1', '--role', 'ops', '--json'])) as {
      password: string;
      totpSecret: string;
    };
    db = new pg.Client({ connectionString: url });
    await db.connect();
    const client = db;
    const lease = async (name: string) =>
      (await client.query('SELECT holder, epoch FROM leases WHERE name = $1 AND expires_at > now()', [name])).rows[0] as
        | { holder: string; epoch: string }
        | undefined;
    const count = async () => Number((await client.query('SELECT count(*) AS n FROM results')).rows[0].n);
    const leader = await waitFor('a replica holds the rollout lease', () => lease('rollouts'));
    const victim = replicas[Number(leader.holder.slice(-1)) - 1] as HubProcess;
    const survivorName = leader.holder === 'replica-1' ? 'replica-2' : 'replica-1';

    for (const d of devices) {
      const agent = new EdgeAgent(
        edgeConfig(
          { ...d, mqttUrl: mosquitto.url, dataDir: join(dir.path, d.deviceId) },
          {
            VIGIL_MQTT__PROTOCOL_VERSION: '5',
            VIGIL_MQTT__RECEIPTS: 'true',
            VIGIL_MQTT__RECEIPT_TIMEOUT_MS: '2000',
            VIGIL_MQTT__RECEIPT_MAX_TIMEOUT_MS: '8000',
            VIGIL_MODEL__DIR: BUNDLED_MODEL,
            VIGIL_MODEL__THREADS: '1',
            VIGIL_MODEL__TRUSTED_KEYS: JSON.stringify([key.publicKeyPem]),
          },
        ),
      );
      agents.push(agent);
      await agent.start();
    }
    const expected = new Set<string>();
    const patients = new Set<string>();
    // One patient per edge whose finding grows between two studies: the first study now, the
    // second after the kill (the survivor compares it with what the dead replica stored).
    const growthStudy = (agent: EdgeAgent, studyDate: string, diameterMm: number) => {
      const r = studyResult({
        ...agent.address,
        patient: `growth-${agent.address.deviceId}`,
        studyDate,
        laterality: 'L',
        view: 'CC',
        score: 0.8,
        findings: [{ x: 0.42, y: 0.31, diameterMm, score: 0.8 }],
      });
      agent.submitResult(r);
      expected.add(r.messageId);
      patients.add(r.patientKey);
    };
    for (const agent of agents) growthStudy(agent, '2025-06-01', 6.1);

    // The rollout is asked of the replica without the lease; the holder carries it out.
    await waitFor('every edge reported its model', async () => {
      const n = await client.query('SELECT count(*) AS n FROM device_state WHERE model_version IS NOT NULL');
      return Number(n.rows[0].n) === EDGES;
    });
    const nonHolder = replicas.find((r) => r !== victim) as HubProcess;
    const { client: opsApi } = await login(`http://127.0.0.1:${nonHolder.httpPort}`, 'ops1', ops.password, ops.totpSecret);
    const started = await opsApi.post<{ rollout: { rolloutId: string; state: string } }>('/api/v1/rollouts', {
      model: { name: 'vigil-demo', version: '0.2.9' },
      waves: '5,100%',
      bakeS: 10,
      gates: { minSamples: 0 },
    });
    assert.equal(started.status, 201, JSON.stringify(started.body));
    const rolloutId = started.body.rollout.rolloutId;
    const rolloutState = async () =>
      (await client.query('SELECT state FROM rollouts WHERE rollout_id = $1', [rolloutId])).rows[0]?.state as string;
    let produced = 0;
    let round = 0;
    // A steady stream: 25 results per edge every 25 ms, before, during and after the faults.
    const producer = setInterval(() => {
      for (let i = 0; i < 25 && produced < EDGES * PER_EDGE; i++, round++) {
        for (const agent of agents) {
          const r = syntheticResult(agent.address, round);
          agent.submitResult(r);
          expected.add(r.messageId);
          patients.add(r.patientKey);
          produced += 1;
        }
      }
    }, 25);

    await waitFor('a fifth stored', async () => (await count()) >= (EDGES * PER_EDGE) / 5);
    await waitFor('the first wave installed', async () => {
      const q = "SELECT count(*) AS n FROM rollout_devices WHERE rollout_id = $1 AND wave = 0 AND state = 'installed'";
      return Number((await client.query(q, [rolloutId])).rows[0].n) === 5;
    });
    assert.equal(await rolloutState(), 'running', 'the rollout is mid-way when its leader dies');
    await victim.kill('SIGKILL');
    for (const agent of agents) growthStudy(agent, '2026-01-10', 9.4);
    await waitFor('half stored, by the survivor', async () => (await count()) >= (EDGES * PER_EDGE) / 2);
    await mosquitto.stop();
    await mosquitto.start();
    await waitFor('production finished', () => produced >= EDGES * PER_EDGE);
    clearInterval(producer);
    await waitFor('every result stored', async () => (await count()) >= expected.size);
    const ids = (await client.query('SELECT message_id FROM results')).rows.map((r) => r.message_id as string);
    assert.equal(ids.length, expected.size, 'nothing stored twice');
    assert.deepEqual(new Set(ids), expected, 'nothing lost');
    await waitFor('every edge confirmed by receipts', () => agents.every((a) => a.outbox.stats().results === 0));

    for (const name of ['rollouts', 'followup-sweeps']) {
      const held = await waitFor(`the survivor holds ${name}`, async () => {
        const l = await lease(name);
        return l?.holder === survivorName ? l : undefined;
      });
      if (name === 'rollouts') assert.ok(Number(held.epoch) > Number(leader.epoch), 'the takeover raised the epoch');
    }
    await waitFor(
      'follow-up computed for every patient',
      async () => Number((await client.query('SELECT count(*) AS n FROM patients')).rows[0].n) === patients.size,
    );
    const growthPatients = agents.map((a) => patientKeyOf(`growth-${a.address.deviceId}`));
    const growth = await waitFor('a growth alert for each growing finding', async () => {
      const q = "SELECT patient_key, reason FROM alerts WHERE kind = 'growth' ORDER BY patient_key";
      const r = (await client.query(q)).rows as { patient_key: string; reason: string }[];
      return r.length >= EDGES ? r : undefined;
    });
    assert.deepEqual(
      growth.map((a) => a.patient_key),
      [...growthPatients].sort(),
      'one growth alert per growing patient, none for anyone else',
    );
    assert.ok(
      growth.every((a) => /grew 6\.1 → 9\.4 mm/.test(a.reason)),
      growth[0]?.reason,
    );

    await waitFor('the survivor completes the rollout', async () => (await rolloutState()) === 'completed', 180_000);
    const installed = await client.query('SELECT device_id FROM rollout_devices WHERE rollout_id = $1 AND state = $2', [
      rolloutId,
      'installed',
    ]);
    assert.equal(installed.rowCount, EDGES, 'every device installed the candidate');
  } finally {
    for (const a of agents) await a.stop();
    await db?.end();
    for (const r of replicas) await r.kill('SIGTERM');
    await mosquitto.dispose();
    await postgres.dispose();
    await balancer.stop();
    dir.remove();
  }
});
