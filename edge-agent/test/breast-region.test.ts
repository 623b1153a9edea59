// The breast region step (manifest `breast-mask-normalise`, `pectoral-mask-mlo`) on drawn images
// whose answer is known: a film label off the breast and one joined to it by a thin film edge are
// removed, fatty tissue and enclosed dark parts are kept, a pectoral triangle is found and cut off
// only when it is there, and the breast's intensities are stretched to one scale.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  BREAST_FLOOR,
  findBreast,
  findPectoral,
  normaliseBreast,
  otsuBin,
  withoutPectoral,
} from '../src/inference/breast-region.js';

const W = 200;
const H = 260;

/** A half-disc breast against the left edge (values 0.35–0.6), on a 0.02 background. */
function breast(): Float32Array {
  const t = new Float32Array(W * H).fill(0.02);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const r = Math.hypot(x, y - 120) / 110;
      if (r < 1) t[y * W + x] = 0.35 + 0.25 * (1 - r);
    }
  return t;
}

test('otsu splits a two-level histogram between its levels', () => {
  const h = new Array(256).fill(0);
  h[20] = 500;
  h[200] = 300;
  const t = otsuBin(h);
  assert.ok(t >= 20 && t < 200, `split ${t}`);
});

test('labels and markers off the breast are removed, also when a thin film edge joins them to it', () => {
  const t = breast();
  // A label in the top-right corner and a marker joined to the breast by a 2-pixel film edge.
  for (let y = 10; y < 30; y++) for (let x = 160; x < 190; x++) t[y * W + x] = 0.95;
  for (let y = 200; y < 220; y++) for (let x = 150; x < 170; x++) t[y * W + x] = 0.9;
  for (let y = 209; y < 211; y++) for (let x = 0; x < 150; x++) t[y * W + x] = 0.9;
  // A dark (fatty) pocket inside the breast, below the tissue threshold.
  for (let y = 110; y < 130; y++) for (let x = 30; x < 50; x++) t[y * W + x] = 0.03;
  const region = findBreast(t, W, H, { width: W, height: H });
  const inMask = (x: number, y: number) => region.mask[y * W + x] === 1;
  assert.ok(!inMask(175, 20), 'the label is not breast');
  assert.ok(!inMask(160, 210), 'the joined marker is not breast');
  assert.ok(inMask(40, 120), 'the enclosed dark pocket is kept');
  assert.ok(inMask(100, 120) && inMask(5, 60), 'the breast is kept');
  assert.ok(!inMask(150, 250), 'the background is not breast');
  assert.ok(region.removedObjects >= 20 * 30 + 20 * 20, `removed ${region.removedObjects}`);
  const expected = Math.PI * 110 * 110 * 0.5;
  assert.ok(Math.abs(region.area - expected) / expected < 0.08, `area ${region.area} vs ${expected}`);
  normaliseBreast(t, region);
  assert.equal(t[20 * W + 175], 0, 'the label is zeroed');
  const inside = [...t].filter((_, p) => region.mask[p] === 1);
  assert.ok(Math.min(...inside) >= BREAST_FLOOR - 1e-6 && Math.max(...inside) <= 1);
  assert.ok(Math.max(...inside) > 0.99, 'the breast reaches the top of the scale');
});

test('a pectoral triangle is found and cut off in an MLO-like image, and nothing is cut without one', () => {
  const plain = breast();
  const none = findPectoral(plain, W, findBreast(plain, W, H, { width: W, height: H }), H);
  assert.equal(none, undefined, 'no muscle, no cut');
  const t = breast();
  // Brighter tissue left of the line x = 80 − 0.8·(y − 10), from the top edge down to the chest wall.
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) if ((t[y * W + x] as number) > 0.3 && x < 80 - 0.8 * (y - 10)) t[y * W + x] = 0.85;
  const region = findBreast(t, W, H, { width: W, height: H });
  const pectoral = findPectoral(t, W, region, H);
  assert.ok(pectoral, 'the muscle is found');
  const edgeAt = (y: number) => pectoral.x0 + pectoral.slope * y;
  assert.ok(Math.abs(edgeAt(40) - (80 - 0.8 * 30)) <= 4, `edge at y=40: ${edgeAt(40)}`);
  const cut = withoutPectoral(region, W, H, pectoral);
  assert.equal(cut.mask[20 * W + 10], 0, 'the muscle is out');
  assert.equal(cut.mask[60 * W + 70], 1, 'the tissue beside it stays');
  assert.equal(cut.mask[200 * W + 10], 1, 'the chest wall below the muscle stays');
  assert.ok(cut.area < region.area);
});
