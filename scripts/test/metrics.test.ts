import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fitPlatt } from '../evaluate/calibration.js';
import { frocPoints, median, medianInterval, poissonRate, rocAuc, wilson } from '../evaluate/metrics.js';

test('ROC AUC: perfect, inverted, chance with ties', () => {
  assert.equal(rocAuc([0.1, 0.2, 0.8, 0.9], [false, false, true, true]), 1);
  assert.equal(rocAuc([0.9, 0.8, 0.2, 0.1], [false, false, true, true]), 0);
  assert.equal(rocAuc([0.5, 0.5, 0.5, 0.5], [false, true, false, true]), 0.5);
  assert.equal(rocAuc([0.1, 0.4, 0.35, 0.8], [false, false, true, true]), 0.75);
  assert.ok(Number.isNaN(rocAuc([0.1], [true])));
});

test('FROC: hits within the lesion radius (≥ 5 mm) count once; the rest are false positives', () => {
  const lesions = [
    { image: 0, xMm: 50, yMm: 50, diameterMm: 10 },
    { image: 1, xMm: 20, yMm: 80, diameterMm: 6 },
  ];
  const candidates = [
    { image: 0, xMm: 53, yMm: 51, diameterMm: 11, score: 0.9 },
    { image: 0, xMm: 52, yMm: 50, diameterMm: 9, score: 0.8 },
    { image: 0, xMm: 90, yMm: 10, diameterMm: 4, score: 0.7 },
    { image: 1, xMm: 22, yMm: 82, diameterMm: 6.5, score: 0.6 },
  ];
  const points = frocPoints(candidates, lesions, 4);
  assert.deepEqual(
    points.map((p) => [p.threshold, p.sensitivity, p.falsePositivesPerImage]),
    [
      [0.9, 0.5, 0],
      [0.8, 0.5, 0],
      [0.7, 0.5, 0.25],
      [0.6, 1, 0.25],
    ],
  );
  assert.deepEqual(points.at(-1)?.sizeErrorsMm.sort(), [0.5, 1]);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([1, 2, 3, 4]), 2.5);
});

test('FROC: a candidate on an ignored (too small) finding is neither a hit nor a false positive', () => {
  const lesions = [{ image: 0, xMm: 50, yMm: 50, diameterMm: 10 }];
  const small = [{ image: 0, xMm: 120, yMm: 40, diameterMm: 3 }];
  const candidates = [
    { image: 0, xMm: 121, yMm: 41, diameterMm: 3.2, score: 0.9 },
    { image: 0, xMm: 200, yMm: 200, diameterMm: 4, score: 0.8 },
  ];
  const [first, second] = frocPoints(candidates, lesions, 2, small);
  assert.deepEqual([first?.sensitivity, first?.falsePositivesPerImage], [0, 0]);
  assert.deepEqual([second?.sensitivity, second?.falsePositivesPerImage], [0, 0.5]);
  // Without the ignore list the same candidate is a false positive.
  assert.equal(frocPoints(candidates, lesions, 2)[0]?.falsePositivesPerImage, 0.5);
});

test('Wilson, Poisson-rate and median intervals match reference values', () => {
  const w = wilson(8, 10);
  assert.ok(Math.abs(w.low - 0.4902) < 1e-3 && Math.abs(w.high - 0.9433) < 1e-3, JSON.stringify(w));
  assert.deepEqual(wilson(0, 0).low, 0);
  // No events in 10 patient-years: the exact 95 % upper limit is 3.689 events, 0.369 per year.
  const none = poissonRate(0, 10);
  assert.equal(none.value, 0);
  assert.ok(Math.abs(none.high - 0.3689) < 0.005, JSON.stringify(none));
  // 10 events: exact limits 4.795 and 18.39.
  const ten = poissonRate(10, 1);
  assert.ok(Math.abs(ten.low - 4.795) < 0.05 && Math.abs(ten.high - 18.39) < 0.1, JSON.stringify(ten));
  const m = medianInterval(Array.from({ length: 100 }, (_, i) => i + 1));
  assert.equal(m.value, 50.5);
  assert.ok(m.low >= 39 && m.low <= 41 && m.high >= 60 && m.high <= 62, JSON.stringify(m));
});

test('Platt scaling recovers the calibration that generated the labels', () => {
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const truth = { a: 0.5, b: -0.6 };
  const samples = Array.from({ length: 20_000 }, () => {
    const score = 0.3 + 0.7 * random();
    const z = Math.log(score / (1 - score));
    return { score, real: random() < 1 / (1 + Math.exp(-(truth.a * z + truth.b))) };
  });
  const fitted = fitPlatt(samples);
  assert.ok(Math.abs(fitted.a - truth.a) < 0.08 && Math.abs(fitted.b - truth.b) < 0.08, JSON.stringify(fitted));
});

test('FROC on real sets: false marks per normal image or outside the outlines, the operating point, per class, bootstrap by woman', async () => {
  const { froc } = await import('../evaluate/froc.js');
  // Four women, one image each (100 × 100 px at 1 mm): two with a lesion, two normal.
  const image = (findings: { x: number; y: number; type: string }[]) => ({
    file: '',
    sopInstanceUid: '',
    laterality: 'L' as const,
    view: 'MLO' as const,
    rows: 100,
    columns: 100,
    pixelSpacingMm: 1,
    findings: findings.map((f, k) => ({ id: String(k), behaviour: 'stable', diameterMm: 10, areaMm2: 78.5, ...f })),
    lookalikes: [],
  });
  const mark = (x: number, y: number, score: number) => ({ x, y, diameterMm: 10, areaMm2: 78.5, score });
  const cohort = {
    model: { name: 'm', version: '1', sha256: '', findingThreshold: 0.5 },
    images: [
      {
        patientId: 'w1',
        image: image([{ x: 0.5, y: 0.5, type: 'mass' }]),
        candidates: [mark(0.52, 0.5, 0.9), mark(0.1, 0.1, 0.3)],
        score: 0.9,
      },
      {
        patientId: 'w2',
        image: image([{ x: 0.3, y: 0.3, type: 'calcification-cluster' }]),
        candidates: [mark(0.8, 0.8, 0.6)],
        score: 0.6,
      },
      { patientId: 'w3', image: image([]), candidates: [mark(0.5, 0.5, 0.7)], score: 0.7 },
      { patientId: 'w4', image: image([]), candidates: [mark(0.5, 0.5, 0.2)], score: 0.2 },
    ].map((i) => ({ ...i, visit: 0, studyKey: i.patientId, studyDate: '20190603', findings: [] })),
  };
  const normal = froc(cohort as never, { rule: 'normal', replicates: 200 });
  // Marks on the two normal images at 0.7 and 0.2: at threshold 0.2 that is 2 marks over 2 normal
  // images (1 per image); the mass is found (0.9), the calcification never (its mark is 5 mm+ off).
  assert.deepEqual([normal.falseMarkImages, normal.lesions], [2, 2]);
  assert.deepEqual([normal.at.threshold, normal.at.marksPerImage, normal.at.sensitivity], [0.2, 1, 0.5]);
  assert.deepEqual(normal.byClass.mass, { lesions: 1, found: 1, sensitivity: 1, interval: normal.byClass.mass?.interval });
  assert.equal(normal.byClass['calcification-cluster']?.found, 0);
  assert.ok(normal.at.interval.low <= 0.5 && normal.at.interval.high >= 0.5, 'the bootstrap interval holds the estimate');
  assert.equal(normal.imageAuc, null, 'two normal images are too few for an image AUC (five of each are needed)');
  // Outside the outlines, per image: the off-lesion marks (0.3, 0.6, 0.7, 0.2) over 4 images.
  const outside = froc(cohort as never, { rule: 'outside', replicates: 50 });
  assert.deepEqual([outside.falseMarkImages, outside.at.threshold, outside.at.marksPerImage], [4, 0.2, 1]);
  assert.deepEqual(
    outside.curve.map((p) => [p.threshold, p.marksPerImage, p.sensitivity]),
    [
      [0.9, 0, 0.5],
      [0.7, 0.25, 0.5],
      [0.6, 0.5, 0.5],
      [0.3, 0.75, 0.5],
      [0.2, 1, 0.5],
    ],
  );
});

test('FROC: a breast-sized mark centred on a lesion does not find it, and counts as a false mark outside the outlines', async () => {
  const { froc } = await import('../evaluate/froc.js');
  const lesion = (diameterMm: number) => ({ id: '0', behaviour: 'stable', type: 'mass', x: 0.5, y: 0.5, diameterMm, areaMm2: 1 });
  const image = (diameterMm: number) => ({
    file: '',
    sopInstanceUid: '',
    laterality: 'L' as const,
    view: 'CC' as const,
    rows: 200,
    columns: 200,
    pixelSpacingMm: 1,
    findings: [lesion(diameterMm)],
    lookalikes: [],
  });
  const mark = (diameterMm: number, score: number) => ({ x: 0.5, y: 0.5, diameterMm, areaMm2: 1, score });
  const cohort = {
    model: { name: 'm', version: '1', sha256: '', findingThreshold: 0.5 },
    images: [
      // A 20 mm lesion: a 60 mm mark is the largest that still finds it; 61 mm is too large.
      { patientId: 'w1', image: image(20), candidates: [mark(60, 0.9)], score: 0.9 },
      { patientId: 'w2', image: image(20), candidates: [mark(61, 0.8)], score: 0.8 },
      // A 4 mm lesion: sizes count from 10 mm, so a 30 mm mark finds it and a 120 mm one does not.
      { patientId: 'w3', image: image(4), candidates: [mark(30, 0.7)], score: 0.7 },
      { patientId: 'w4', image: image(4), candidates: [mark(120, 0.6)], score: 0.6 },
    ].map((i) => ({ ...i, visit: 0, studyKey: i.patientId, studyDate: '20190603', findings: [] })),
  };
  const report = froc(cohort as never, { rule: 'outside', maxMarks: 1, replicates: 20 });
  assert.deepEqual(
    report.curve.map((p) => [p.threshold, p.marksPerImage, p.sensitivity]),
    [
      [0.9, 0, 0.25],
      [0.8, 0.25, 0.25],
      [0.7, 0.25, 0.5],
      [0.6, 0.5, 0.5],
    ],
  );
});
