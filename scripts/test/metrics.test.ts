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
