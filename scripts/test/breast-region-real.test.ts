// The breast region step on real film and digital mammograms (issue 26, item 2): converted from
// ../shared/data by the dataset adapters and read through the edge's own decode + preprocess. Film
// labels go, the pectoral muscle of MLO views is found on most films and cut off, lesions stay
// inside the breast, and the result is independent of which side the chest wall was on.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { modelInputFromFile, toInputPixels } from '@vigil/edge-agent';
import { cddCesmAdapter } from '../datasets/cdd-cesm-adapter.js';
import { miasAdapter } from '../datasets/mias-adapter.js';
import { convertDataset } from '../datasets/write-cohort.js';
import { makeTempDir } from '../harness/temp-dir.js';

const SHARED = join(import.meta.dirname, '../../../shared/data');
const MIAS = join(SHARED, 'mias-train');
const CDD = join(SHARED, 'cdd-cesm-train');
const SPEC = { width: 288, height: 368, boxDownsample: true, breastMask: true, pectoralMask: true };

test('real mammograms: labels removed, the MLO pectoral muscle cut off, every lesion kept in the breast', {
  skip: !existsSync(MIAS) || !existsSync(CDD),
}, async () => {
  const dir = makeTempDir('breast-region-real');
  try {
    const women = [
      'MIAS-W0002',
      'MIAS-W0003',
      'MIAS-W0004',
      'MIAS-W0006',
      'MIAS-W0010',
      'MIAS-W0014',
      'MIAS-W0019',
      'MIAS-W0031',
    ];
    const mias = await convertDataset({
      adapter: miasAdapter,
      from: MIAS,
      out: join(dir.path, 'mias'),
      onlyWomen: new Set(women),
    });
    const cdd = await convertDataset({
      adapter: cddCesmAdapter,
      from: CDD,
      out: join(dir.path, 'cdd'),
      onlyWomen: new Set(['CDD-P102', 'CDD-P105', 'CDD-P107', 'CDD-P110']),
    });
    let films = 0;
    let pectorals = 0;
    let labelled = 0;
    let lesions = 0;
    for (const [cohort, truth] of [
      ['mias', mias],
      ['cdd', cdd],
    ] as const) {
      for (const image of truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images))) {
        const { attrs, input } = await modelInputFromFile(join(dir.path, cohort, image.file), SPEC);
        const breast = input.breast;
        assert.ok(breast, `${image.file}: a breast region`);
        // Outside the breast the input is 0; inside it spans the normalised scale.
        let outside = 0;
        let brightest = 0;
        for (let p = 0; p < input.tensor.length; p++) {
          if (!breast.mask[p]) outside = Math.max(outside, input.tensor[p] as number);
          else brightest = Math.max(brightest, input.tensor[p] as number);
        }
        assert.equal(outside, 0, `${image.file}: nothing left off the breast`);
        assert.ok(brightest > 0.99, `${image.file}: the breast is stretched to the scale`);
        assert.ok(breast.area > input.tensor.length * 0.1, `${image.file}: the breast is most of the image (${breast.area})`);
        const geometry = { ...image, scale: input.scale, mirrored: input.mirrored };
        for (const f of image.findings) {
          const c = toInputPixels(geometry, f);
          assert.equal(
            breast.mask[Math.round(c.y) * SPEC.width + Math.round(c.x)],
            1,
            `${image.file}: ${f.type} inside the breast`,
          );
          lesions += 1;
        }
        if (cohort === 'mias') {
          films += 1;
          if (breast.pectoral) pectorals += 1;
          if (breast.removedObjects > 0) labelled += 1;
          assert.equal(attrs.viewPosition, 'MLO');
        }
      }
    }
    assert.ok(lesions >= 10, `${lesions} lesions checked`);
    assert.ok(pectorals >= films * 0.5, `pectoral muscle found on ${pectorals} of ${films} films`);
    assert.ok(labelled >= 3, `labels or markers removed from ${labelled} of ${films} films`);
  } finally {
    dir.remove();
  }
});
