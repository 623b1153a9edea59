// The model `cross-validate --final` ships takes the operating point measured on women its fold
// models never saw; uncalibrated fold models also hand it a calibration fitted on their out-of-fold
// marks at or above that point.
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { calibratedScore } from '@vigil/edge-agent';
import { froc, frocRuleFor } from '../evaluate/froc.js';
import { inferCohort } from '../evaluate/infer-cohort.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';
import { adoptOperatingPoint } from '../train/operating-point.js';

const PHANTOM_ONLY = join(import.meta.dirname, '../../models/cross-validation/phantom-only');

test("the final model takes the cross-validation's operating point, and a calibration from out-of-fold marks when the folds had none", async () => {
  const dir = makeTempDir('operating-point');
  try {
    await generatePhantoms({ out: join(dir.path, 'cohort'), patients: 24, visits: 1, seed: 5151, rows: 1024, columns: 832 });
    // A "fold model" and a "final model" without a calibration (as a run whose held-out split was too small).
    const uncalibrated = (name: string) => {
      const to = join(dir.path, name);
      cpSync(PHANTOM_ONLY, to, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(to, 'manifest.json'), 'utf8'));
      delete manifest.calibration;
      writeFileSync(join(to, 'manifest.json'), JSON.stringify(manifest));
      return to;
    };
    const fold = uncalibrated('fold');
    const final = uncalibrated('final');
    const cohort = await inferCohort(join(dir.path, 'cohort'), fold, { cache: false });
    const report = froc(cohort, { rule: frocRuleFor(cohort) });
    const lines: string[] = [];
    const adopted = adoptOperatingPoint(final, cohort, [cohort], report, (l) => lines.push(l));
    assert.equal(adopted.thresholds.finding, Math.round(report.at.threshold * 1e4) / 1e4, 'a map probability, taken as it is');
    assert.deepEqual(JSON.parse(readFileSync(join(final, 'manifest.json'), 'utf8')).thresholds, adopted.thresholds);
    const marks = cohort.images.flatMap((i) => i.candidates.filter((c) => c.score >= report.at.threshold)).length;
    assert.ok(marks >= 50, `enough out-of-fold marks to fit a calibration on (${marks})`);
    assert.ok(adopted.calibration, `a calibration from ${marks} out-of-fold marks`);
    assert.equal((adopted.training.calibration as { findings: number }).findings, marks);
    assert.ok(lines.some((l) => l.includes('out-of-fold')));
    // Run again: the calibration it has now is kept, and the point is the same.
    const again = adoptOperatingPoint(final, cohort, [cohort], report, () => {});
    assert.deepEqual(again.calibration, adopted.calibration);
    assert.equal(again.thresholds.finding, adopted.thresholds.finding);

    // Calibrated fold models: the point is a calibrated score, mapped back through the final model's calibration.
    const calibrated = join(dir.path, 'calibrated');
    cpSync(PHANTOM_ONLY, calibrated, { recursive: true });
    const foldCohort = await inferCohort(join(dir.path, 'cohort'), PHANTOM_ONLY, { cache: false });
    const calibratedReport = froc(foldCohort, { rule: frocRuleFor(foldCohort) });
    const mapped = adoptOperatingPoint(calibrated, foldCohort, [foldCohort], calibratedReport, () => {});
    assert.ok(mapped.calibration, 'its own calibration is kept');
    const back = calibratedScore(mapped.thresholds.finding, mapped.calibration);
    assert.ok(
      Math.abs(back - calibratedReport.at.threshold) < 0.01 || mapped.thresholds.finding === 0.01,
      `${back} vs ${calibratedReport.at.threshold}`,
    );
    assert.equal((mapped.training.operatingPoint as { scores: string }).scores, 'calibrated');
  } finally {
    dir.remove();
  }
});
