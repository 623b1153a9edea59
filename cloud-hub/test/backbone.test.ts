import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeConfig, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { makeClientCert, makeTlsMaterial } from '../../scripts/harness/tls-material.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

test('three edge agents: every result reaches hub state exactly once, telemetry reaches history', async () => {
  const t = await startTestHub();
  const dir = makeTempDir('edges');
  const agents: EdgeAgent[] = [];
  try {
    for (let i = 1; i <= 3; i++) {
      const deviceId = `edge-${i}`;
      const password = await t.addDevice(`clinic-${i}`, deviceId);
      const agent = new EdgeAgent(
        edgeConfig({
          clinicId: `clinic-${i}`,
          deviceId,
          password,
          mqttUrl: t.mqttUrl,
          dataDir: join(dir.path, deviceId),
          telemetryIntervalS: 0.2,
        }),
      );
      agents.push(agent);
      await agent.start();
    }
    const expected = new Set<string>();
    for (const agent of agents) {
      for (let n = 0; n < 400; n++) {
        const r = syntheticResult(agent.address, n);
        agent.submitResult(r);
        expected.add(r.messageId);
      }
    }
    await waitFor('all results at the hub', async () => (await t.hub.state.countResults()) === expected.size, 30_000);
    assert.deepEqual(new Set(await t.hub.state.listResultIds()), expected);
    await waitFor(
      'outboxes drained',
      () => agents.every((a) => a.outbox.stats().results === 0 || a.outbox.stats().depth === 0),
      10_000,
    );

    const states = await waitFor('telemetry and status from every device', async () => {
      const s = await t.hub.state.listDeviceStates();
      return s.length === 3 && s.every((d) => d.status === 'online' && d.lastTelemetry !== null) ? s : undefined;
    });
    assert.deepEqual(states.map((s) => s.deviceId).sort(), ['edge-1', 'edge-2', 'edge-3']);
    const samples = await waitFor('telemetry history', async () => {
      const q = await t.hub.history.query({
        measurement: 'device_telemetry',
        field: 'cpu_utilization_pct',
        fromMs: Date.now() - 60_000,
        toMs: Date.now() + 1000,
      });
      return new Set(q.map((s) => s.tags.device)).size === 3 ? q : undefined;
    });
    assert.ok(samples.every((s) => s.value >= 0 && s.value <= 100));

    await agents[0]?.stop();
    agents.shift();
    await waitFor(
      'graceful stop publishes offline',
      async () => (await t.hub.state.listDeviceStates()).find((s) => s.deviceId === 'edge-1')?.status === 'offline',
    );
  } finally {
    for (const a of agents) await a.stop();
    await t.stop();
    dir.remove();
  }
});

test('an edge started before the hub keeps results in its outbox and delivers them once the hub is up', async () => {
  const dir = makeTempDir('edge-first');
  const port = await freePort();
  const agent = new EdgeAgent(
    edgeConfig({
      clinicId: 'clinic-a',
      deviceId: 'edge-early',
      password: 'early-password-1',
      mqttUrl: `mqtt://127.0.0.1:${port}`,
      dataDir: join(dir.path, 'edge'),
    }),
  );
  await agent.start();
  for (let n = 0; n < 50; n++) agent.submitResult(syntheticResult(agent.address, n));
  await new Promise((r) => setTimeout(r, 500));
  assert.equal(agent.outbox.stats().results, 50);
  const t = await startTestHub({ mqtt: { listen: { port } } });
  try {
    await t.hub.registry.add({ clinicId: 'clinic-a', deviceId: 'edge-early' }, { password: 'early-password-1' });
    await waitFor('results delivered after the hub came up', async () => (await t.hub.state.countResults()) === 50, 20_000);
  } finally {
    await agent.stop();
    await t.stop();
    dir.remove();
  }
});

test('TLS listener: an edge pinning the hub CA connects; one pinning another CA is refused', async () => {
  const dir = makeTempDir('tls');
  const good = makeTlsMaterial(dir.path, 'hub');
  const other = makeTlsMaterial(dir.path, 'other');
  const tlsPort = await freePort();
  const t = await startTestHub({
    mqtt: {
      listen: { enabled: false },
      tls: { enabled: true, host: '127.0.0.1', port: tlsPort, keyFile: good.serverKey, certFile: good.serverCert },
    },
  });
  const agents: EdgeAgent[] = [];
  try {
    const password = await t.addDevice('clinic-a', 'edge-tls');
    const url = `mqtts://127.0.0.1:${tlsPort}`;
    const pinned = new EdgeAgent(
      edgeConfig(
        { clinicId: 'clinic-a', deviceId: 'edge-tls', password, mqttUrl: url, dataDir: join(dir.path, 'a') },
        { VIGIL_MQTT__CA_FILE: good.caCert },
      ),
    );
    agents.push(pinned);
    await pinned.start();
    pinned.submitResult(syntheticResult(pinned.address, 1));
    await waitFor('result over TLS', async () => (await t.hub.state.countResults()) === 1, 15_000);

    const wrongCa = new EdgeAgent(
      edgeConfig(
        { clinicId: 'clinic-a', deviceId: 'edge-tls', password, mqttUrl: url, dataDir: join(dir.path, 'b') },
        { VIGIL_MQTT__CA_FILE: other.caCert },
      ),
    );
    agents.push(wrongCa);
    await wrongCa.start();
    wrongCa.submitResult(syntheticResult(wrongCa.address, 2));
    await waitFor('TLS failure reported', () => wrongCa.publisher.lastError?.code === 'VIGIL_MQTT_UNREACHABLE', 10_000);
    assert.match(wrongCa.publisher.lastError?.message ?? '', /certificate|self.signed|unable to verify/i);
    assert.equal(wrongCa.outbox.stats().results, 1, 'the result waits in the outbox');
    assert.equal(await t.hub.state.countResults(), 1);
  } finally {
    for (const a of agents) await a.stop();
    await t.stop();
    dir.remove();
  }
});

test('/healthz, /readyz and /metrics answer on the hub HTTP port', async () => {
  const t = await startTestHub();
  try {
    assert.deepEqual(await (await fetch(`${t.httpUrl}/healthz`)).json(), { status: 'ok' });
    const ready = await fetch(`${t.httpUrl}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: object }).checks, { state: true, history: true, mqtt: true });
    const metrics = await fetch(`${t.httpUrl}/metrics`);
    assert.match(metrics.headers.get('content-type') ?? '', /text\/plain/);
    const text = await metrics.text();
    for (const name of [
      'vigil_ingest_messages_total',
      'vigil_history_pending_points',
      'vigil_followup_pending_patients',
      'vigil_followup_worker_restarts_total',
      'vigil_hub_process_cpu_seconds_total',
    ]) {
      assert.ok(text.includes(name), name);
    }
  } finally {
    await t.stop();
  }
});

test('a client holding a half-sent HTTP request does not hold up hub shutdown', async () => {
  const t = await startTestHub();
  const socket = connect(t.hub.httpPort, '127.0.0.1');
  socket.on('error', () => {});
  try {
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write('GET /healthz HTTP/1.1\r\nHost: hub\r\n'); // headers never finished
    const closed = new Promise((resolve) => socket.once('close', resolve));
    const started = performance.now();
    await t.stop();
    // Without the bounded close this waited for Node's request timeout (5 minutes).
    assert.ok(performance.now() - started < 30_000, `stop took ${Math.round(performance.now() - started)} ms`);
    await closed;
  } finally {
    socket.destroy();
  }
});

test('X.509 client certificates: a device certificate whose CN is the device id authenticates without a password', async () => {
  const dir = makeTempDir('x509');
  const server = makeTlsMaterial(dir.path, 'hub');
  const deviceCa = makeTlsMaterial(dir.path, 'devices');
  const good = makeClientCert(dir.path, deviceCa, 'edge-cert');
  const impostor = makeClientCert(dir.path, deviceCa, 'someone-else');
  const tlsPort = await freePort();
  const t = await startTestHub({
    mqtt: {
      listen: { enabled: false },
      tls: {
        enabled: true,
        host: '127.0.0.1',
        port: tlsPort,
        keyFile: server.serverKey,
        certFile: server.serverCert,
        caFile: deviceCa.caCert,
      },
    },
  });
  const agents: EdgeAgent[] = [];
  try {
    await t.hub.registry.add({ clinicId: 'clinic-a', deviceId: 'edge-cert' });
    const url = `mqtts://127.0.0.1:${tlsPort}`;
    const withCert = (cert: { cert: string; key: string }, sub: string) =>
      new EdgeAgent(
        edgeConfig(
          { clinicId: 'clinic-a', deviceId: 'edge-cert', password: '', mqttUrl: url, dataDir: join(dir.path, sub) },
          { VIGIL_MQTT__CA_FILE: server.caCert, VIGIL_MQTT__CERT_FILE: cert.cert, VIGIL_MQTT__KEY_FILE: cert.key },
        ),
      );
    const device = withCert(good, 'good');
    agents.push(device);
    await device.start();
    device.submitResult(syntheticResult(device.address, 1));
    await waitFor(
      'result from the certificate-authenticated device',
      async () => (await t.hub.state.countResults()) === 1,
      15_000,
    );

    await device.stop();
    agents.length = 0;
    const wrong = withCert(impostor, 'impostor');
    agents.push(wrong);
    await wrong.start();
    wrong.submitResult(syntheticResult(wrong.address, 2));
    await waitFor('impostor refused', () => wrong.publisher.lastError?.code === 'VIGIL_MQTT_AUTH_FAILED', 10_000);
    assert.equal(await t.hub.state.countResults(), 1);
  } finally {
    for (const a of agents) await a.stop();
    await t.stop();
    dir.remove();
  }
});
