import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { EdgeAgent } from '@vigil/edge-agent';
import Database from 'better-sqlite3';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import { HubProcess } from '../../scripts/harness/hub-process.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

function resultIds(statePath: string): string[] {
  const db = new Database(statePath, { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT message_id FROM results').all() as { message_id: string }[]).map((r) => r.message_id);
  } finally {
    db.close();
  }
}

test('kill -9 of the hub (and its embedded broker) mid-stream, then restart: nothing is lost', async () => {
  const dir = makeTempDir('hub-kill');
  const hub = new HubProcess(join(dir.path, 'hub'));
  await hub.init();
  const agents: EdgeAgent[] = [];
  try {
    const expected = new Set<string>();
    const statePath = join(dir.path, 'hub', 'state.sqlite');
    for (const deviceId of ['edge-a', 'edge-b']) {
      const password = hub.addDevice('clinic-a', deviceId);
      const agent = new EdgeAgent(
        edgeConfig({ clinicId: 'clinic-a', deviceId, password, mqttUrl: hub.mqttUrl, dataDir: join(dir.path, deviceId) }),
      );
      agents.push(agent);
    }
    await hub.start();
    for (const agent of agents) await agent.start();
    // Results keep coming while the hub dies and comes back.
    let produced = 0;
    const producer = setInterval(() => {
      for (const agent of agents) {
        for (let i = 0; i < 200 && produced < 16_000; i++) {
          const r = syntheticResult(agent.address, produced++);
          agent.submitResult(r);
          expected.add(r.messageId);
        }
      }
    }, 20);
    await waitFor('some results stored', () => resultIds(statePath).length >= 1500, 30_000, 20);
    await hub.kill('SIGKILL');
    const atKill = resultIds(statePath).length;
    await new Promise((r) => setTimeout(r, 500));
    await hub.start();
    await waitFor('production finished', () => produced >= 16_000, 60_000);
    clearInterval(producer);
    await waitFor('every result stored after the restart', () => resultIds(statePath).length === expected.size, 60_000, 200);
    assert.ok(atKill < expected.size, `the hub died mid-stream (${atKill} stored)`);
    assert.deepEqual(new Set(resultIds(statePath)), expected);
  } finally {
    for (const a of agents) await a.stop();
    await hub.kill();
    dir.remove();
  }
});
