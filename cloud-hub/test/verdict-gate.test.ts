// Issue 16, item 3: the verdict-agreement gate on a real hub and rollout controller. A shadow
// candidate is scored against clinicians' verdicts on the images both models saw: it holds the wave
// until enough images are reviewed, trips the rollout when the candidate disagrees with the verdicts,
// and passes one that agrees.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { MODEL_REPORTED_SCHEMA, newMessageId, RESULT_SCHEMA, type ResultMessage, resultMessageId } from '@vigil/shared';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { BUNDLED_VERSION, generateSigningKey } from '../../scripts/harness/model-packages.js';
import { rolloutReadyHub } from '../../scripts/harness/rollout-setup.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import type { RolloutRecord } from '../src/rollout/rollout-store.js';

const key = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
const DEVICE = { clinicId: 'clinic-a', deviceId: 'mg-1' };
const IMAGES = 8;

function result(image: string, version: string, finding: { x: number; y: number }, shadow: boolean): ResultMessage {
  const instanceKey = key(`instance/${image}`);
  return {
    schema: RESULT_SCHEMA,
    messageId: resultMessageId(instanceKey, 'vigil-demo', version),
    ...DEVICE,
    createdAt: new Date().toISOString(),
    patientKey: key(`patient/${image}`),
    studyKey: key(`study/${image}`),
    seriesKey: key(`series/${image}`),
    instanceKey,
    studyDate: '2026-11-20',
    modality: 'MG',
    laterality: 'L',
    view: 'CC',
    model: { name: 'vigil-demo', version },
    score: 0.8,
    findings: [{ ...finding, diameterMm: 10, areaMm2: 78.5, score: 0.8 }],
    image: { rows: 1024, columns: 832, pixelSpacingMm: 0.2 },
    timingsMs: { decode: 5, preprocess: 2, infer: 10 },
    ...(shadow ? { shadow: true } : {}),
  };
}

test('the verdict-agreement gate holds a shadow rollout for verdicts, trips a candidate that disagrees, passes one that agrees', async () => {
  const dir = makeTempDir('verdict-gate');
  const signing = generateSigningKey();
  const h = await startTestHub({ models: { trustedKeys: [signing.publicKeyPem] }, rollout: { tickMs: 100 } });
  try {
    await rolloutReadyHub(h, dir.path, signing.privateKeyPem, {
      seed: 79,
      version: '0.3.0',
      moreVersions: ['0.3.1'],
      deviceIds: [DEVICE.deviceId],
    });
    const rolloutOf = async (id: string) => (await h.hub.state.rollouts.getRollout(id)) as RolloutRecord;
    const gate = (r: RolloutRecord) => r.gates.find((g) => g.gate === 'verdict-agreement');

    /** Starts a shadow rollout of `version`, the device runs it, both models see the same images. */
    const scenario = async (version: string, candidateAt: { x: number; y: number }) => {
      const { rollout } = await h.hub.rollouts.startRollout({
        model: { name: 'vigil-demo', version },
        mode: 'shadow',
        waves: [{ percent: 100 }],
        bakeS: 0,
        gates: { minSamples: 0, minVerdicts: IMAGES },
        onTrip: 'pause',
        actor: 'ops1',
      });
      const images = Array.from({ length: IMAGES }, (_, i) => `${version}-image-${i}`);
      const active = images.map((image) => result(image, BUNDLED_VERSION, { x: 0.3, y: 0.3 }, false));
      await h.hub.state.commitIngest(
        ingestBatch({
          modelReports: [
            {
              schema: MODEL_REPORTED_SCHEMA,
              messageId: newMessageId(),
              ...DEVICE,
              at: new Date().toISOString(),
              state: 'shadow',
              model: { name: 'vigil-demo', version },
              rolloutId: rollout.rolloutId,
            },
          ],
          results: [...active, ...images.map((image) => result(image, version, candidateAt, true))],
        }),
      );
      // Results and an installed device, but no verdicts yet: the gate holds the wave.
      await waitFor('the gate waits for verdicts', async () => gate(await rolloutOf(rollout.rolloutId))?.status === 'waiting');
      assert.equal((await rolloutOf(rollout.rolloutId)).state, 'running');
      // A clinician confirms every finding of the active model.
      await h.hub.state.verdicts.append(
        active.map((r) => ({
          subject: `finding:${r.messageId}:0`,
          kind: 'finding' as const,
          patientKey: r.patientKey,
          studyKey: r.studyKey,
          clinicId: r.clinicId,
          resultId: r.messageId,
          findingIndex: 0,
          value: { verdict: 'confirmed' as const },
          author: 'dr.a',
          source: 'dashboard' as const,
        })),
      );
      await waitFor(`rollout of ${version} decided`, async () => (await rolloutOf(rollout.rolloutId)).state !== 'running');
      return rolloutOf(rollout.rolloutId);
    };

    // The candidate reports its findings far from every lesion the clinicians confirmed.
    const disagrees = await scenario('0.3.0', { x: 0.8, y: 0.8 });
    assert.equal(disagrees.state, 'paused', JSON.stringify(disagrees.gates));
    assert.match(
      disagrees.reason ?? '',
      /verdict-agreement: worse than the active model on clinicians' verdicts: PPV 0 % against 100 %/,
    );
    assert.deepEqual([gate(disagrees)?.status, gate(disagrees)?.samples], ['fail', IMAGES]);
    await h.hub.rollouts.abort(disagrees.rolloutId, 'ops1');

    // This one finds the same lesions.
    const agrees = await scenario('0.3.1', { x: 0.31, y: 0.3 });
    assert.equal(agrees.state, 'completed', `${agrees.reason} ${JSON.stringify(agrees.gates)}`);
    assert.deepEqual([gate(agrees)?.status, gate(agrees)?.value, gate(agrees)?.threshold], ['pass', 1, 1]);
  } finally {
    await h.stop();
    dir.remove();
  }
});
