// Issue 12's fault test: the hub's PostgreSQL stops for 10 s while two edge agents stream results.
// The hub must not crash, /readyz must report the outage, ingest must stop acknowledging (results
// wait in the edges' outboxes) and resume by itself, every result must be stored exactly once, and
// follow-up must catch up on every patient.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import { edgeConfig, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

const OUTAGE_MS = 10_000;
const PER_DEVICE = 1500;

async function readiness(httpUrl: string): Promise<{ status: number; checks: Record<string, boolean> }> {
  const response = await fetch(`${httpUrl}/readyz`);
  return { status: response.status, checks: ((await response.json()) as { checks: Record<string, boolean> }).checks };
}

test('PostgreSQL stopped for 10 s mid-ingest: the hub stays up, reports it, and stores every result once', async () => {
  const server = new PostgresServer();
  await server.start();
  const url = server.createDatabase('outage');
  const t = await startTestHub({ state: { driver: 'postgres', url, connectTimeoutMs: 1000 } });
  const dir = makeTempDir('pg-outage');
  const agents: EdgeAgent[] = [];
  const unexpected: unknown[] = [];
  const onUnexpected = (error: unknown) => unexpected.push(error);
  process.on('uncaughtException', onUnexpected);
  process.on('unhandledRejection', onUnexpected);
  try {
    assert.equal(t.hub.state.driver, 'postgres');
    for (const deviceId of ['edge-a', 'edge-b']) {
      const password = await t.addDevice('clinic-a', deviceId);
      const agent = new EdgeAgent(
        edgeConfig({ clinicId: 'clinic-a', deviceId, password, mqttUrl: t.mqttUrl, dataDir: join(dir.path, deviceId) }),
      );
      agents.push(agent);
      await agent.start();
    }
    const expected = new Set<string>();
    const patients = new Set<string>();
    let produced = 0;
    // A steady stream: results keep arriving before, during and after the outage.
    const producer = setInterval(() => {
      for (const agent of agents) {
        for (let i = 0; i < 10 && produced < PER_DEVICE * agents.length; i++) {
          const r = syntheticResult(agent.address, produced++);
          agent.submitResult(r);
          expected.add(r.messageId);
          patients.add(r.patientKey);
        }
      }
    }, 20);

    await waitFor('some results stored before the outage', async () => (await t.hub.state.countResults()) >= 300);
    await server.stop();
    const outageStarted = Date.now();
    const during = await waitFor('readiness reports the state store', async () => {
      const r = await readiness(t.httpUrl);
      return r.status === 503 && r.checks.state === false ? r : undefined;
    });
    assert.equal(during.checks.mqtt, true, 'the broker itself stays up');
    await waitFor('edges hold unacknowledged results', () => agents.some((a) => a.outbox.stats().results > 0));
    // The outage lasts its full 10 s (the scenario, not a budget).
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, OUTAGE_MS - (Date.now() - outageStarted))));
    const heldDuringOutage = agents.reduce((n, a) => n + a.outbox.stats().results, 0);
    await server.start();

    await waitFor('readiness recovers', async () => (await readiness(t.httpUrl)).status === 200);
    await waitFor('production finished', () => produced >= PER_DEVICE * agents.length);
    clearInterval(producer);
    await waitFor('every result stored', async () => (await t.hub.state.countResults()) === expected.size);
    assert.deepEqual(new Set(await t.hub.state.listResultIds()), expected, 'each result once, none missing');
    assert.equal(await t.hub.state.countResults(), expected.size);
    await waitFor('outboxes drained', () => agents.every((a) => a.outbox.stats().results === 0));
    assert.ok(heldDuringOutage > 0, 'results waited in the outboxes during the outage');
    await waitFor(
      'follow-up caught up on every patient',
      async () => (await t.hub.state.followup.listPatients({ limit: 10_000 })).items.length === patients.size,
    );
    assert.deepEqual(unexpected, [], 'no uncaught exception or unhandled rejection');
  } finally {
    process.off('uncaughtException', onUnexpected);
    process.off('unhandledRejection', onUnexpected);
    for (const a of agents) await a.stop();
    await t.stop();
    await server.dispose();
    dir.remove();
  }
});
