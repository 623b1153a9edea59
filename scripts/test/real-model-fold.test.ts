// The real-image bar on one cross-validation fold (issue 26): the fold-0 model of the shipped recipe
// (a film branch trained by `npm run cross-validate` without the women of fold 0, composed with the
// phantom-trained digital branch), reads those women's real film (mini-MIAS) and digital (CDD-CESM)
// mammograms, converted here from ../shared/data by the dataset adapters and read through the edge's
// own decode, preprocess and inference (each image by the branch its Detector Type chooses). Its FROC
// operating point and image AUC must hold the figures the model card reports for this fold (less a
// margin for the bootstrap and for a different CPU's float rounding), and compare with the
// phantom-only model's on the same women as bar.json says: better on film, the same on digital
// (the digital branch is that model).
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { adapterFor } from '../datasets/adapters.js';
import { foldOf } from '../datasets/folds.js';
import { convertDataset } from '../datasets/write-cohort.js';
import { froc, frocRuleFor, frocSummary } from '../evaluate/froc.js';
import { inferCohort } from '../evaluate/infer-cohort.js';
import { makeTempDir } from '../harness/temp-dir.js';

const ROOT = join(import.meta.dirname, '../..');
const SHARED = join(ROOT, '../shared/data');
const FOLD_MODEL = join(ROOT, 'models/cross-validation/fold-0');
const PHANTOM_ONLY = join(ROOT, 'models/cross-validation/phantom-only');

test('fold 0 of the cross-validation: the model holds its real-image bar on women it never saw', {
  skip: !existsSync(join(SHARED, 'mias-train')) || !existsSync(join(SHARED, 'cdd-cesm-train')),
  timeout: 600_000,
}, async () => {
  const BAR = JSON.parse(readFileSync(join(FOLD_MODEL, 'bar.json'), 'utf8')) as Record<
    string,
    { sensitivity: number; imageAuc?: number; vsPhantomOnly: 'better' | 'same' }
  >;
  const dir = makeTempDir('real-fold');
  try {
    for (const [name, bar] of Object.entries(BAR)) {
      const from = join(SHARED, name);
      const adapter = adapterFor(from);
      assert.ok(adapter, `${from}: a dataset an adapter reads`);
      const women = (await adapter.women(from)).filter((w) => foldOf(w, 5) === 0);
      await convertDataset({ adapter, from, out: join(dir.path, name), onlyWomen: new Set(women) });
      const figures = async (model: string) => {
        const cohort = await inferCohort(join(dir.path, name), model, { cache: false });
        return froc(cohort, { rule: frocRuleFor(cohort) });
      };
      const now = await figures(FOLD_MODEL);
      const before = await figures(PHANTOM_ONLY);
      process.stderr.write(`${name} fold 0: ${frocSummary(now)}\n  phantom-only: ${frocSummary(before)}\n`);
      assert.ok(now.lesions >= 8, `${name}: a meaningful fold (${now.lesions} lesions)`);
      assert.ok(
        now.at.sensitivity >= bar.sensitivity - 0.03,
        `${name}: sensitivity ${now.at.sensitivity} (bar ${bar.sensitivity})`,
      );
      if (bar.vsPhantomOnly === 'better')
        assert.ok(
          now.at.sensitivity > before.at.sensitivity,
          `${name}: better than the phantom-only model (${before.at.sensitivity})`,
        );
      else
        assert.deepEqual(
          now.curve,
          before.curve,
          `${name}: read by the phantom-only model's own network, as the phantom-only model reads it`,
        );
      if (bar.imageAuc !== undefined) {
        assert.ok(now.imageAuc, `${name}: an image AUC`);
        assert.ok(now.imageAuc.value >= bar.imageAuc - 0.03, `${name}: image AUC ${now.imageAuc.value} (bar ${bar.imageAuc})`);
      }
    }
  } finally {
    dir.remove();
  }
});
