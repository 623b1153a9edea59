import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { Outbox } from '@vigil/edge-agent';
import { encodeMessage, topicFor } from '@vigil/shared';
import { edgeEnv, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

const EDGE_BIN = join(import.meta.dirname, '../../edge-agent/bin/vigil-edge.mjs');

function startEdge(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [EDGE_BIN, 'serve'], {
    env: { ...process.env, ...env, VIGIL_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

test('kill -9 of an edge agent mid-stream, then restart: every result arrives exactly once', async () => {
  const t = await startTestHub();
  const dir = makeTempDir('edge-kill');
  let child: ChildProcess | undefined;
  try {
    const address = { clinicId: 'clinic-a', deviceId: 'edge-k' };
    const password = await t.addDevice(address.clinicId, address.deviceId);
    const env = edgeEnv({ ...address, password, mqttUrl: t.mqttUrl, dataDir: dir.path, telemetryIntervalS: 0.5 });
    const total = 20_000;
    const expected = new Set<string>();
    const outbox = new Outbox({ path: join(dir.path, 'outbox.sqlite'), maxBytes: 1e9 });
    const results = Array.from({ length: total }, (_, i) => syntheticResult(address, i));
    outbox.enqueueMany(
      results.map((r) => {
        expected.add(r.messageId);
        return {
          messageId: r.messageId,
          kind: 'results' as const,
          topic: topicFor(address, 'results'),
          payload: encodeMessage(r),
        };
      }),
    );
    outbox.close();

    child = startEdge(env);
    await waitFor('delivery under way', async () => (await t.hub.state.countResults()) >= 2000, 30_000, 5);
    child.kill('SIGKILL');
    await new Promise((resolve) => child?.once('exit', resolve));
    const atKill = await t.hub.state.countResults();
    assert.ok(atKill < total, `killed mid-stream (${atKill} of ${total} delivered)`);

    child = startEdge(env);
    await waitFor('all results after restart', async () => (await t.hub.state.countResults()) === total, 60_000);
    assert.deepEqual(new Set(await t.hub.state.listResultIds()), expected);
    await waitFor('outbox drained', () => {
      const o = new Outbox({ path: join(dir.path, 'outbox.sqlite'), maxBytes: 1e9 });
      const left = o.stats().results;
      o.close();
      return left === 0;
    });
  } finally {
    child?.kill('SIGKILL');
    await t.stop();
    dir.remove();
  }
});
