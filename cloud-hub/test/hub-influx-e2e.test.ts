import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import { edgeConfig, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { InfluxdServer } from '../../scripts/harness/influxd.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

async function countInflux(influxd: InfluxdServer, q: string): Promise<number> {
  const body = (await influxd.query('vigil', q)) as { results: { series?: { values: [number, number][] }[] }[] };
  return body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

test('hub with InfluxDB history: InfluxDB stopped mid-stream, restarted → every point arrives, results keep flowing', async () => {
  const influxd = new InfluxdServer();
  await influxd.start();
  const t = await startTestHub({
    history: { driver: 'influxdb', influx: { url: influxd.url, database: 'vigil', flushIntervalMs: 50 } },
  });
  const dir = makeTempDir('influx-e2e');
  const password = await t.addDevice('clinic-a', 'edge-1');
  const agent = new EdgeAgent(
    edgeConfig({
      clinicId: 'clinic-a',
      deviceId: 'edge-1',
      password,
      mqttUrl: t.mqttUrl,
      dataDir: dir.path,
      telemetryIntervalS: 0.1,
    }),
  );
  try {
    await agent.start();
    for (let i = 0; i < 1000; i++) agent.submitResult(syntheticResult(agent.address, i));
    await waitFor(
      'first half in InfluxDB',
      async () => (await countInflux(influxd, 'SELECT count(score) FROM inference')) === 1000,
      20_000,
    );
    await influxd.stop();
    for (let i = 1000; i < 2000; i++) agent.submitResult(syntheticResult(agent.address, i));
    // The hub still accepts and stores results in SQL while InfluxDB is down.
    await waitFor('results stored during the outage', async () => (await t.hub.state.countResults()) === 2000, 20_000);
    assert.ok(t.hub.history.pendingPoints() >= 1000, 'points wait in the durable buffer');
    const ready = (await (await fetch(`${t.httpUrl}/readyz`)).json()) as { checks: { history: boolean } };
    assert.equal(ready.checks.history, false, '/readyz reports the history store down');
    await influxd.start();
    await waitFor('backfilled', async () => (await countInflux(influxd, 'SELECT count(score) FROM inference')) === 2000, 30_000);
    await waitFor(
      'telemetry present',
      async () => (await countInflux(influxd, 'SELECT count(cpu_utilization_pct) FROM device_telemetry')) > 0,
    );
    assert.equal(t.hub.history.pendingPoints() < 50, true);
  } finally {
    await agent.stop();
    await t.stop();
    await influxd.dispose();
    dir.remove();
  }
});
