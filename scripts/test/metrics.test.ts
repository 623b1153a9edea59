import assert from 'node:assert/strict';
import { test } from 'node:test';
import { frocPoints, median, rocAuc } from '../evaluate/metrics.js';

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
