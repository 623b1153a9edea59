import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import { encodeMessage, topicFor } from '@vigil/shared';
import mqtt from 'mqtt';
import { edgeConfig, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { MosquittoServer } from '../../scripts/harness/mosquitto.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { mosquittoAclFile } from '../src/broker/mosquitto-acl.js';

test('external-broker mode: edges → Mosquitto (ACL) → hub persistent subscription; broker restart loses nothing', async () => {
  const dir = makeTempDir('external');
  const mosquitto = new MosquittoServer();
  const devices = [
    { clinicId: 'clinic-a', deviceId: 'edge-1', password: 'edge-1-password' },
    { clinicId: 'clinic-b', deviceId: 'edge-2', password: 'edge-2-password' },
  ];
  const acl = mosquittoAclFile(
    devices.map((d) => ({ ...d, passwordHash: '', tags: [], createdAt: '', revokedAt: null })),
    'vigil-hub',
  );
  await mosquitto.start(
    [
      { username: 'vigil-hub', password: 'hub-password-1' },
      ...devices.map((d) => ({ username: d.deviceId, password: d.password })),
    ],
    acl,
  );
  const t = await startTestHub({
    mqtt: {
      mode: 'external',
      listen: { enabled: false },
      external: { url: mosquitto.url, username: 'vigil-hub', password: 'hub-password-1', group: '' },
    },
  });
  const agents: EdgeAgent[] = [];
  try {
    const expected = new Set<string>();
    for (const d of devices) {
      const agent = new EdgeAgent(
        edgeConfig(
          { ...d, mqttUrl: mosquitto.url, dataDir: join(dir.path, d.deviceId), telemetryIntervalS: 0.5 },
          { VIGIL_MQTT__PROTOCOL_VERSION: '5' },
        ),
      );
      agents.push(agent);
      await agent.start();
    }
    const produce = (from: number, to: number) => {
      for (const agent of agents) {
        for (let i = from; i < to; i++) {
          const r = syntheticResult(agent.address, i);
          agent.submitResult(r);
          expected.add(r.messageId);
        }
      }
    };
    produce(0, 1500);
    await waitFor('some results through Mosquitto', async () => (await t.hub.state.countResults()) > 200, 20_000, 10);
    await mosquitto.stop();
    produce(1500, 2000);
    await mosquitto.start();
    await waitFor(
      'every result after the broker restart',
      async () => (await t.hub.state.countResults()) === expected.size,
      60_000,
    );
    assert.deepEqual(new Set(await t.hub.state.listResultIds()), expected);
    await waitFor('telemetry via Mosquitto', async () =>
      (await t.hub.state.listDeviceStates()).every((s) => s.lastTelemetry !== null),
    );

    // Mosquitto enforces the same ACL: edge-1 cannot publish as edge-2.
    const forger = await mqtt.connectAsync(mosquitto.url, {
      clientId: 'edge-1',
      username: 'edge-1',
      password: 'edge-1-password',
      protocolVersion: 5,
    });
    const forged = syntheticResult({ clinicId: 'clinic-b', deviceId: 'edge-2' }, 99_999);
    await forger
      .publishAsync(topicFor({ clinicId: 'clinic-b', deviceId: 'edge-2' }, 'results'), encodeMessage(forged), { qos: 1 })
      .catch(() => undefined);
    await forger.endAsync();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await t.hub.state.getResult(forged.messageId), undefined);
  } finally {
    for (const a of agents) await a.stop();
    await t.stop();
    await mosquitto.dispose();
    dir.remove();
  }
});

test('external-broker mode with an MQTT 5 shared-subscription group: four consumer connections split the load', async () => {
  const dir = makeTempDir('external-shared');
  const mosquitto = new MosquittoServer();
  const device = { clinicId: 'clinic-a', deviceId: 'edge-1', password: 'edge-1-password' };
  await mosquitto.start(
    [
      { username: 'vigil-hub', password: 'hub-password-1' },
      { username: device.deviceId, password: device.password },
    ],
    mosquittoAclFile([{ ...device, passwordHash: '', tags: [], createdAt: '', revokedAt: null }], 'vigil-hub'),
  );
  const t = await startTestHub({
    mqtt: {
      mode: 'external',
      listen: { enabled: false },
      external: { url: mosquitto.url, username: 'vigil-hub', password: 'hub-password-1', group: 'vigil-hub', consumers: 4 },
    },
  });
  const agent = new EdgeAgent(
    edgeConfig({ ...device, mqttUrl: mosquitto.url, dataDir: join(dir.path, 'edge') }, { VIGIL_MQTT__PROTOCOL_VERSION: '5' }),
  );
  try {
    await agent.start();
    for (let i = 0; i < 2000; i++) agent.submitResult(syntheticResult(agent.address, i));
    await waitFor('all results through the shared subscription', async () => (await t.hub.state.countResults()) === 2000, 30_000);
    const metrics = await (await fetch(`${t.httpUrl}/readyz`)).json();
    assert.deepEqual(metrics, { status: 'ready', checks: { state: true, history: true, mqtt: true } });
  } finally {
    await agent.stop();
    await t.stop();
    await mosquitto.dispose();
    dir.remove();
  }
});
