// Hub replicas (issue 13): two `vigil-hub serve` processes share PostgreSQL and consume through an
// MQTT 5 shared subscription on Mosquitto; ten edges with end-to-end receipts stream 20 000 results.
// The replica holding the singleton leases is killed with SIGKILL mid-stream and the broker is
// restarted once: every result is stored exactly once, every patient's follow-up is computed, and
// the leases (rollout ticks, overdue sweeps) move to the survivor with a higher epoch.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import pg from 'pg';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import { HubProcess } from '../../scripts/harness/hub-process.js';
import { MosquittoServer, startMosquittoForDevices } from '../../scripts/harness/mosquitto.js';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

const EDGES = 10;
const PER_EDGE = 2000;

test('two replicas, one killed with SIGKILL and the broker restarted: every result once, leases move to the survivor', async () => {
  const dir = makeTempDir('replicas');
  const postgres = new PostgresServer();
  const mosquitto = new MosquittoServer();
  const devices = Array.from({ length: EDGES }, (_, i) => ({
    clinicId: `clinic-${i % 3}`,
    deviceId: `edge-${i}`,
    password: `edge-${i}-password`,
  }));
  const replicas: HubProcess[] = [];
  const agents: EdgeAgent[] = [];
  let db: pg.Client | undefined;
  try {
    await postgres.start();
    const url = postgres.createDatabase('replicas');
    await startMosquittoForDevices(mosquitto, devices);
    for (const name of ['replica-1', 'replica-2']) {
      const hub = new HubProcess(join(dir.path, name), {
        VIGIL_CLUSTER__REPLICA_ID: name,
        VIGIL_CLUSTER__LEASE_TTL_MS: '3000',
        VIGIL_STATE__DRIVER: 'postgres',
        VIGIL_STATE__URL: url,
        VIGIL_MQTT__MODE: 'external',
        VIGIL_MQTT__LISTEN__ENABLED: 'false',
        VIGIL_MQTT__EXTERNAL__URL: mosquitto.url,
        VIGIL_MQTT__EXTERNAL__USERNAME: 'vigil-hub',
        VIGIL_MQTT__EXTERNAL__PASSWORD: 'hub-password-1',
        VIGIL_MQTT__EXTERNAL__GROUP: 'vigil-hub',
        VIGIL_MQTT__EXTERNAL__CONSUMERS: '4',
        VIGIL_MQTT__EXTERNAL__CLIENT_ID_PREFIX: name,
      });
      await hub.init();
      replicas.push(hub);
    }
    await Promise.all(replicas.map((r) => r.start()));
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
          },
        ),
      );
      agents.push(agent);
      await agent.start();
    }
    const expected = new Set<string>();
    const patients = new Set<string>();
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

    await waitFor('a fifth stored', async () => (await count()) >= 4000);
    await victim.kill('SIGKILL');
    await waitFor('half stored, by the survivor', async () => (await count()) >= 10_000);
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
  } finally {
    for (const a of agents) await a.stop();
    await db?.end();
    for (const r of replicas) await r.kill('SIGTERM');
    await mosquitto.dispose();
    await postgres.dispose();
    dir.remove();
  }
});
