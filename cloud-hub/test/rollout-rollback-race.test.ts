// Second outside review, item 8: a rollback must finish whatever the order of events. The race
// that left a loaded machine's fleet test in `rolling-back` for good: the gate trips while the wave's
// device is still installing the candidate, the rollback's desired message to that device is lost (a
// publish that fails under load, or a lease lost between the two writes), and the device's report of
// the candidate arrives after the rollback began. The controller must tell the device again until it
// reports its previous model, and the rollout must reach rolled-back. The device here is a stand-in
// that answers desired messages through the hub's real ingest and state store, with its install
// delayed by the test.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLogger, MODEL_REPORTED_SCHEMA, type ModelDesiredMessage, newMessageId } from '@vigil/shared';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { BUNDLED_VERSION, generateSigningKey } from '../../scripts/harness/model-packages.js';
import { rolloutReadyHub } from '../../scripts/harness/rollout-setup.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { RolloutController } from '../src/rollout/rollout-controller.js';

test('a rollback whose message is lost while the device is still installing the candidate still reaches rolled-back', async () => {
  const dir = makeTempDir('rollback-race');
  const key = generateSigningKey();
  const h = await startTestHub({ models: { trustedKeys: [key.publicKeyPem] }, rollout: { tickMs: 600_000 } });
  try {
    await rolloutReadyHub(h, dir.path, key.privateKeyPem, { seed: 78, version: '0.2.8', deviceIds: ['mg-1'] });
    const report = (state: 'downloading' | 'active', model: { name: string; version: string }) =>
      h.hub.state.commitIngest(
        ingestBatch({
          modelReports: [
            {
              schema: MODEL_REPORTED_SCHEMA,
              messageId: newMessageId(),
              clinicId: 'clinic-a',
              deviceId: 'mg-1',
              at: new Date().toISOString(),
              state,
              model,
            },
          ],
        }),
      );
    // The stand-in edge: starts installing whatever it is told; the test decides when an install
    // ends. A desired message naming the model it runs, or the previous one it keeps loaded, is
    // answered at once (as the real edge does).
    let running = { name: 'vigil-demo', version: BUNDLED_VERSION };
    let kept: typeof running | undefined;
    const told: ModelDesiredMessage[] = [];
    let finishInstall: (() => Promise<void>) | undefined;
    let loseNext = false;
    const controller = new RolloutController({
      state: h.hub.state,
      registry: h.hub.models,
      logger: createLogger('test', { level: 'silent' }),
      tickMs: 3_600_000,
      rollbackReassertMs: 300,
      publishDesired: async (message) => {
        if (loseNext) {
          loseNext = false;
          throw new Error('publish timed out (broker overloaded)');
        }
        told.push(message);
        const want = { name: message.active.name, version: message.active.version };
        if (want.version === running.version) {
          await report('active', running);
          return;
        }
        if (want.version === kept?.version) {
          // The previous model is still loaded: an instant switch back.
          [running, kept] = [kept, running];
          await report('active', running);
          return;
        }
        await report('downloading', want);
        finishInstall = async () => {
          kept = running;
          running = want;
          await report('active', want);
        };
      },
    });

    const { rollout } = await controller.startRollout({
      model: { name: 'vigil-demo', version: '0.2.8' },
      waves: [{ percent: 100 }],
      bakeS: 60,
      actor: 'ops1',
    });
    assert.equal(told.at(-1)?.active.version, '0.2.8');
    // The gate trips (here: an operator's rollback, the same code path) while the device installs,
    // and the message telling it to go back is lost.
    loseNext = true;
    await controller.rollback(rollout.rolloutId, 'ops1');
    assert.equal((await h.hub.state.rollouts.getRollout(rollout.rolloutId))?.state, 'rolling-back');
    assert.equal(told.length, 1, 'the rollback message never reached the device');
    // The candidate's install finishes after the rollback began: the device now runs the candidate.
    await finishInstall?.();
    assert.equal(running.version, '0.2.8');

    await waitFor(
      'the rollout rolled back',
      async () => {
        await controller.tick();
        return (await h.hub.state.rollouts.getRollout(rollout.rolloutId))?.state === 'rolled-back';
      },
      60_000,
      100,
    );
    assert.equal(running.version, BUNDLED_VERSION, 'the device is back on its previous model');
    assert.ok(
      told.some((m) => m.active.version === BUNDLED_VERSION),
      'the controller told it again',
    );
    const [device] = await h.hub.state.rollouts.rolloutDevices(rollout.rolloutId);
    assert.equal(device?.state, 'rolled-back');
  } finally {
    await h.stop();
    dir.remove();
  }
});
