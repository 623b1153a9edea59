// Controller ticks and operator actions must not interleave: a tick that decides a rollback while
// `startRollout` is still publishing the first wave would miss the devices not yet marked, which
// would then be told to install the model after the rollback was decided.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { generateSigningKey } from '../../scripts/harness/model-packages.js';
import { rolloutReadyHub } from '../../scripts/harness/rollout-setup.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { RolloutController } from '../src/rollout/rollout-controller.js';

test('a tick waits for a rollout that is still starting, and an action waits for a running tick', async () => {
  const dir = makeTempDir('rollout-serial');
  const key = generateSigningKey();
  const h = await startTestHub({ models: { trustedKeys: [key.publicKeyPem] }, rollout: { tickMs: 600_000 } });
  try {
    await rolloutReadyHub(h, dir.path, key.privateKeyPem, { seed: 77, version: '0.2.9', deviceIds: ['mg-1', 'mg-2'] });

    // Publishing a desired model blocks until the test lets it go, holding startRollout mid-wave.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    let published = 0;
    const controller = new RolloutController({
      state: h.hub.state,
      registry: h.hub.models,
      logger: createLogger('test', { level: 'silent' }),
      tickMs: 3_600_000,
      publishDesired: async () => {
        published += 1;
        await gate;
      },
    });
    const order: string[] = [];
    const starting = controller
      .startRollout({ model: { name: 'vigil-demo', version: '0.2.9' }, waves: [{ percent: 100 }], bakeS: 1, actor: 'ops1' })
      .then((r) => {
        order.push('started');
        return r;
      });
    await waitFor('startRollout publishing the first desired model', () => published === 1, 10_000, 5);
    const ticked = controller.tick().then(() => order.push('tick'));
    const paused = starting.then(({ rollout }) => controller.pause(rollout.rolloutId, 'ops1').then(() => order.push('paused')));
    // A tick is a few milliseconds of work: given ample time, it must still be waiting.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.deepEqual(order, [], 'nothing ran while startRollout was mid-wave');
    release();
    await Promise.all([starting, ticked, paused]);
    assert.deepEqual(order, ['started', 'tick', 'paused']);
    assert.equal(published, 2, 'both devices were told, once each');
  } finally {
    await h.stop();
    dir.remove();
  }
});
