// Operator actions with hub replicas (issue 13): a replica without the rollout lease hands the
// action to the holder through the database and answers with the holder's outcome; with no holder
// the action is withdrawn (VIGIL_ROLLOUT_BUSY) and never carried out later; a replica whose lease
// was taken over cannot act on a stale fence. Two controllers share one PostgreSQL state store, as
// two replicas do.
process.env.VIGIL_TEST_STATE = 'postgres';

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { generateSigningKey } from '../../scripts/harness/model-packages.js';
import { rolloutReadyHub } from '../../scripts/harness/rollout-setup.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import type { LeaseFence } from '../src/cluster/lease-store.js';
import { RolloutController } from '../src/rollout/rollout-controller.js';

test('a replica without the lease hands operator actions to the holder; with no holder they are withdrawn', async () => {
  const dir = makeTempDir('rollout-commands');
  const key = generateSigningKey();
  const h = await startTestHub({ models: { trustedKeys: [key.publicKeyPem] }, rollout: { tickMs: 600_000 } });
  try {
    await rolloutReadyHub(h, dir.path, key.privateKeyPem, { seed: 78, version: '0.2.9', deviceIds: ['mg-1', 'mg-2'] });

    // The hub's own controller would carry commands out too: these two replicas stand in for it.
    await h.hub.rollouts.stop();
    const LEASE = 'rollouts-replicas';
    const leases = h.hub.state.leases;
    const fences: Record<'a' | 'b', LeaseFence | undefined> = { a: undefined, b: undefined };
    const published = { a: 0, b: 0 };
    const replica = (name: 'a' | 'b', timeoutMs: number) =>
      new RolloutController({
        state: h.hub.state,
        registry: h.hub.models,
        logger: createLogger('test', { level: 'silent' }),
        tickMs: 600_000,
        replicaId: `replica-${name}`,
        commandPollMs: 20,
        commandTimeoutMs: timeoutMs,
        lease: { fence: () => fences[name] },
        publishDesired: async () => {
          published[name] += 1;
        },
      });
    const grantA = await leases.tryAcquire(LEASE, 'replica-a', 600_000);
    fences.a = grantA ?? undefined;
    const a = replica('a', 20_000);
    const b = replica('b', 20_000);
    await a.start();
    await b.start();

    const started = await b.startRollout({
      model: { name: 'vigil-demo', version: '0.2.9' },
      waves: [{ percent: 100 }],
      bakeS: 1,
      actor: 'ops1',
    });
    assert.equal(started.rollout.state, 'running');
    assert.equal(started.rollout.createdBy, 'ops1');
    assert.equal(started.devices.length, 2);
    assert.deepEqual(published, { a: 2, b: 0 }, 'the holder started the rollout and told both devices');
    const id = started.rollout.rolloutId;

    assert.equal((await b.pause(id, 'ops2')).state, 'paused');
    assert.equal((await h.hub.state.rollouts.getRollout(id))?.reason, 'paused by ops2');
    await assert.rejects(b.pause(id, 'ops2'), { code: 'VIGIL_ROLLOUT_INVALID' }, "the holder's refusal reaches the requester");

    // The holder stops; nobody holds the lease: the action is withdrawn, and stays undone.
    await a.stop();
    await leases.release(LEASE, 'replica-a');
    const impatient = replica('b', 300);
    await impatient.start();
    await assert.rejects(impatient.resume(id, 'ops3'), { code: 'VIGIL_ROLLOUT_BUSY' });
    assert.deepEqual(await h.hub.state.rollouts.pendingCommands(10), [], 'withdrawn, not left for a later holder');
    await impatient.stop();

    // Replica b takes the lease over (a higher epoch) and acts itself; a's stale fence is refused.
    const grantB = await leases.tryAcquire(LEASE, 'replica-b', 600_000);
    assert.ok(grantB && grantB.epoch > (grantA?.epoch ?? 0));
    fences.b = grantB;
    assert.equal((await b.resume(id, 'ops3')).state, 'running');
    const stale = replica('a', 20_000);
    await assert.rejects(stale.abort(id, 'ops4'), { code: 'VIGIL_LEASE_LOST' });
    assert.equal((await h.hub.state.rollouts.getRollout(id))?.state, 'running', 'the stale replica changed nothing');
    await b.stop();
  } finally {
    await h.stop();
    dir.remove();
  }
});
