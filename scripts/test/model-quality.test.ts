import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluate } from '../evaluate/evaluate.js';
import { BUNDLED_MODEL, BUNDLED_TRAINING_SEED } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';

// A seed the model never saw: training used the manifest's phantomSeed (its held-out split too).
const HELD_OUT_SEED = 4242;

test('the checked-in model meets the quality bar on freshly generated held-out phantoms', async () => {
  assert.notEqual(BUNDLED_TRAINING_SEED, HELD_OUT_SEED);
  const dir = makeTempDir('model-quality');
  try {
    await generatePhantoms({ out: dir.path, patients: 30, visits: 1, seed: HELD_OUT_SEED, rows: 1024, columns: 832 });
    const e = await evaluate(dir.path, BUNDLED_MODEL);
    const report = JSON.stringify(e);
    assert.ok(e.lesions5mm >= 20 && e.positiveImages >= 20 && e.images - e.positiveImages >= 20, `a meaningful set: ${report}`);
    assert.ok(e.imageAuc >= 0.95, `image AUC: ${report}`);
    assert.ok(e.sensitivityAt05Fp >= 0.9, `sensitivity at <= 0.5 FP/image: ${report}`);
    assert.ok(e.falsePositivesPerImageAtThreshold <= 0.5, report);
    assert.ok(e.medianSizeErrorMm <= 1.5, `median size error: ${report}`);
  } finally {
    dir.remove();
  }
});
