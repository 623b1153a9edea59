// The follow-up alerts a clinician would see, end to end, on a freshly generated longitudinal cohort
// the model never saw and the engine was never tuned on: the checked-in model's findings through the
// hub's follow-up engine, each alert judged against the phantoms' truth. Holds the alert goals the
// way model-quality.test.ts holds the image bar (figures printed as diagnostics).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateAlerts } from '../evaluate/alert-evaluation.js';
import { alertGoals, formatGoals } from '../evaluate/goals.js';
import { inferCohort } from '../evaluate/infer-cohort.js';
import { BUNDLED_MODEL } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';

// Never used in training (the manifest's phantomSeed) nor in choosing the engine's rules (9101, 9102).
const FRESH_SEED = 9301;

test('follow-up alerts meet their goals on a fresh four-visit cohort', async (t) => {
  const manifest = JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')) as {
    training: { phantomSeed: number };
  };
  assert.notEqual(manifest.training.phantomSeed, FRESH_SEED);
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
    for (const g of goals) assert.ok(g.met, `${g.goal}: ${JSON.stringify(g.figure)} (${g.basis})\n${a.wrongExamples.join('\n')}`);
  } finally {
    dir.remove();
  }
});
