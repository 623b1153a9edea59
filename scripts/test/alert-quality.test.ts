// The follow-up alerts a clinician would see, end to end, on a freshly generated longitudinal cohort
// the model never saw and the engine was never tuned on: the checked-in model's findings through the
// hub's follow-up engine, each alert judged against the phantoms' truth. Holds the alert goals the
// way model-quality.test.ts holds the image bar (figures printed as diagnostics).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateAlerts } from '../evaluate/alert-evaluation.js';
import { alertGoals, formatGoals } from '../evaluate/goals.js';
import { inferCohort } from '../evaluate/infer-cohort.js';
import { BUNDLED_MODEL, BUNDLED_TRAINING_SEED } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';

// Never used in training (the manifest's phantomSeed) nor in choosing the engine's rules (9101, 9102).
const FRESH_SEED = 9301;

test('follow-up alerts meet their goals on a fresh four-visit cohort', async (t) => {
  assert.notEqual(BUNDLED_TRAINING_SEED, FRESH_SEED);
  const dir = makeTempDir('alert-quality');
  try {
    await generatePhantoms({ out: dir.path, patients: 16, visits: 4, seed: FRESH_SEED, rows: 1024, columns: 832 });
    const cohort = await inferCohort(dir.path, BUNDLED_MODEL, { cache: false });
    const a = evaluateAlerts(cohort);
    const goals = alertGoals(a);
    t.diagnostic(`\n${formatGoals(goals)}\n  per patient: ${JSON.stringify(a.perPatient)}`);
    // A cohort with something to find: clear growth, inbox alerts of the main kinds.
    assert.ok(a.recall.growth.events >= 10, `clear growth events: ${a.recall.growth.events}`);
    assert.ok((a.byLevel.inbox.growth?.alerts ?? 0) >= 5, JSON.stringify(a.byLevel));
    // Every goal holds but one: the median size error of 30–50 mm masses alone, 0.9–5.8 mm on the
    // evaluation cohorts with model 0.5.0 (1.9 mm here; 8.5 mm with 0.4.0), a limit of the model
    // recorded in the model card and ADR 0024. Held below 3 mm here so it cannot slide back.
    for (const g of goals.filter((x) => !x.goal.includes('30–50 mm')))
      assert.ok(g.met, `${g.goal}: ${JSON.stringify(g.figure)} (${g.basis})\n${a.wrongExamples.join('\n')}`);
    assert.ok(a.sizeErrorMm.from30To50.value <= 3, `30–50 mm masses: ${JSON.stringify(a.sizeErrorMm.from30To50)}`);
  } finally {
    dir.remove();
  }
});
