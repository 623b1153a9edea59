import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { inspectFile } from '@vigil/edge-agent';
import { makeTempDir } from '../harness/temp-dir.js';
import { diameterAtVisit, planCohort } from '../phantoms/cohort-plan.js';
import { generatePhantoms, type Truth } from '../phantoms/generate-phantoms.js';
import { renderMammogram } from '../phantoms/render-mammogram.js';

const sha = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

test('planned histories: stable, growing, new and resolving findings behave as declared', () => {
  const cohort = planCohort(5, 300, 4);
  const seen = new Set<string>();
  for (const patient of cohort) {
    for (const f of patient.findings) {
      seen.add(f.behaviour);
      const sizes = patient.visits.map((v) => diameterAtVisit(f, patient.visits, v.index));
      if (f.behaviour === 'stable') assert.ok(sizes.every((s) => s === f.baseDiameterMm));
      if (f.behaviour === 'growing') {
        for (let v = 1; v < sizes.length; v++) {
          const months = (patient.visits[v]?.monthsFromBaseline ?? 0) - (patient.visits[v - 1]?.monthsFromBaseline ?? 0);
          assert.ok(Math.abs((sizes[v] as number) - (sizes[v - 1] as number) - f.growthMmPerMonth * months) < 1e-9);
        }
      }
      if (f.behaviour === 'new') {
        assert.equal(sizes[0], undefined);
        assert.ok(sizes[f.appearsAtVisit] !== undefined && (sizes[f.appearsAtVisit] as number) <= 8);
      }
      if (f.behaviour === 'resolving') {
        assert.notEqual(sizes[0], undefined);
        assert.ok(sizes.slice(f.resolvesAtVisit).every((s) => s === undefined));
      }
      assert.ok(f.baseDiameterMm >= 3 && f.baseDiameterMm <= 30);
    }
  }
  assert.deepEqual([...seen].sort(), ['growing', 'new', 'resolving', 'stable']);
});

test('a mass is a real, low-contrast signal in the pixels where truth says it is', () => {
  const patient = planCohort(9, 200, 1).find((p) =>
    p.findings.some((f) => f.type === 'circumscribed-mass' && f.baseDiameterMm > 8),
  );
  assert.ok(patient);
  const finding = patient.findings.find((f) => f.type === 'circumscribed-mass' && f.baseDiameterMm > 8);
  assert.ok(finding);
  const image = renderMammogram({
    patient,
    laterality: finding.laterality,
    view: 'CC',
    visitIndex: 0,
    rows: 1024,
    columns: 832,
    pixelSpacingMm: 0.28,
    seed: 9,
  });
  const truth = image.findings.find((f) => f.id === finding.id);
  assert.ok(truth);
  const cx = truth.x * image.columns;
  const cy = truth.y * image.rows;
  const radius = truth.diameterMm / 2 / 0.28;
  let inside = 0;
  let ni = 0;
  let ring = 0;
  let nr = 0;
  for (let y = 0; y < image.rows; y++) {
    for (let x = 0; x < image.columns; x++) {
      const d = Math.hypot(x - cx, y - cy);
      const v = image.pixels[y * image.columns + x] as number;
      if (d < radius * 0.7) {
        inside += v;
        ni++;
      } else if (d > radius * 1.5 && d < radius * 2.2) {
        ring += v;
        nr++;
      }
    }
  }
  const contrast = inside / ni - ring / nr;
  assert.ok(contrast > 200 && contrast < 2500, `mass contrast ${contrast}`);
});

test('npm run phantoms: valid DICOM MG that dcmdump, pydicom and the edge read; deterministic for a seed', async () => {
  const dir = makeTempDir('phantoms');
  try {
    const out = join(dir.path, 'a');
    const truth = await generatePhantoms({ out, patients: 3, visits: 2, seed: 11, rows: 512, columns: 416 });
    assert.equal(truth.patients.length, 3);
    const files = truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images.map((i) => join(out, i.file))));
    assert.equal(files.length, 3 * 2 * 4);
    for (const file of files.slice(0, 4)) {
      const dump = spawnSync('dcmdump', ['-q', file], { encoding: 'utf8' });
      assert.equal(dump.status, 0);
      assert.equal(dump.stderr, '', `dcmdump warns about ${file}`);
      assert.match(dump.stdout, /\(0008,0016\) UI =DigitalMammographyXRayImageStorageForPresentation/);
      const result = await inspectFile(file);
      assert.ok(result.ok && result.bitsStored === 14 && result.modality === 'MG');
    }
    execFileSync('/usr/bin/python3', [
      '-W',
      'error',
      '-c',
      `import pydicom,sys\nfor f in sys.argv[1:]:\n  a = pydicom.dcmread(f).pixel_array\n  assert a.shape == (512, 416) and a.max() < 16384`,
      ...files.slice(0, 4),
    ]);
    const onDisk = JSON.parse(readFileSync(join(out, 'truth.json'), 'utf8')) as Truth;
    assert.deepEqual(onDisk, truth);

    const again = join(dir.path, 'b');
    await generatePhantoms({ out: again, patients: 3, visits: 2, seed: 11, rows: 512, columns: 416 });
    assert.equal(sha(join(again, 'truth.json')), sha(join(out, 'truth.json')));
    assert.equal(
      sha(join(again, truth.patients[1]?.visits[1]?.images[3]?.file ?? '')),
      sha(join(out, truth.patients[1]?.visits[1]?.images[3]?.file ?? '')),
    );
    const other = join(dir.path, 'c');
    await generatePhantoms({ out: other, patients: 1, visits: 1, seed: 12, rows: 512, columns: 416 });
    assert.notEqual(
      sha(join(other, truth.patients[0]?.visits[0]?.images[0]?.file.replace('PH0011', 'PH0012') ?? '')),
      sha(join(out, truth.patients[0]?.visits[0]?.images[0]?.file ?? '')),
    );
  } finally {
    dir.remove();
  }
});
