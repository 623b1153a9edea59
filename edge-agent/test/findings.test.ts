import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibratedScore, findingsOfMap } from '../src/inference/analyze-image.js';
import { extractFindings, imageScore } from '../src/inference/findings.js';
import type { ModelManifest } from '../src/inference/model-manifest.js';

function mapWithDiscs(width: number, height: number, discs: { x: number; y: number; r: number; p: number }[]) {
  const data = new Float32Array(width * height);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (const d of discs) if (Math.hypot(x + 0.5 - d.x, y + 0.5 - d.y) <= d.r) data[y * width + x] = d.p;
    }
  }
  return { data, width, height };
}

const options = { threshold: 0.5, minAreaMm2: 2, maxFindings: 10 };

test('discs become findings with position, area and diameter from the pixel spacing', () => {
  // Map at a quarter of the source resolution; source pixels of 0.1 mm → 0.4 mm per map pixel.
  const map = mapWithDiscs(100, 120, [
    { x: 30, y: 40, r: 10, p: 0.9 },
    { x: 70, y: 90, r: 5, p: 0.7 },
  ]);
  const findings = extractFindings(
    map,
    { rows: 480, columns: 400, scale: 0.25, mirrored: false, pixelSpacingMm: [0.1, 0.1] },
    options,
  );
  assert.equal(findings.length, 2);
  const [big, small] = findings;
  assert.equal(big?.score, 0.9);
  assert.ok(Math.abs((big?.x ?? 0) - 30 / 100) < 0.01 && Math.abs((big?.y ?? 0) - 40 / 120) < 0.01);
  assert.ok(Math.abs((big?.diameterMm ?? 0) - 2 * 10 * 0.4) < 0.4, `diameter ${big?.diameterMm}`);
  assert.ok(Math.abs((small?.diameterMm ?? 0) - 2 * 5 * 0.4) < 0.4);
  assert.ok(Math.abs((big?.areaMm2 ?? 0) - Math.PI * 4 * 4) < 4);
});

test('mirrored inputs map back to the source orientation; specks below the minimum area are dropped', () => {
  const map = mapWithDiscs(100, 100, [
    { x: 20, y: 50, r: 8, p: 0.8 },
    { x: 80, y: 20, r: 0.8, p: 0.99 },
  ]);
  const findings = extractFindings(
    map,
    { rows: 400, columns: 400, scale: 0.25, mirrored: true, pixelSpacingMm: [0.1, 0.1] },
    options,
  );
  assert.equal(findings.length, 1);
  assert.ok(Math.abs((findings[0]?.x ?? 0) - 0.8) < 0.01);
  assert.equal(imageScore(map), 0.99);
});

test('nothing above threshold: no findings, and two touching discs are one finding', () => {
  assert.deepEqual(
    extractFindings(
      mapWithDiscs(50, 50, [{ x: 25, y: 25, r: 10, p: 0.3 }]),
      { rows: 50, columns: 50, scale: 1, mirrored: false, pixelSpacingMm: [1, 1] },
      options,
    ),
    [],
  );
  const touching = mapWithDiscs(60, 40, [
    { x: 20, y: 20, r: 8, p: 0.9 },
    { x: 34, y: 20, r: 8, p: 0.9 },
  ]);
  assert.equal(
    extractFindings(touching, { rows: 40, columns: 60, scale: 1, mirrored: false, pixelSpacingMm: [1, 1] }, options).length,
    1,
  );
});

test('a finding found at a low operating threshold is measured at the size threshold, not at its halo', () => {
  // A disc of radius 8 (p 0.9) inside a halo of radius 12 (p 0.3): found at threshold 0.2, measured at 0.5.
  const data = mapWithDiscs(60, 60, [{ x: 30, y: 30, r: 12, p: 0.3 }]).data;
  const core = mapWithDiscs(60, 60, [{ x: 30, y: 30, r: 8, p: 0.9 }]).data;
  for (let i = 0; i < data.length; i++) data[i] = Math.max(data[i] as number, core[i] as number);
  const geometry = { rows: 60, columns: 60, scale: 1, mirrored: false, pixelSpacingMm: [1, 1] as [number, number] };
  const [low] = extractFindings({ data, width: 60, height: 60 }, geometry, { ...options, threshold: 0.2 });
  const [high] = extractFindings({ data, width: 60, height: 60 }, geometry, options);
  assert.ok(low && high);
  assert.equal(low.diameterMm, high.diameterMm);
  assert.ok(Math.abs(low.diameterMm - 16) < 0.6, `diameter ${low.diameterMm}`);
  // Only the halo (nothing at 0.5): measured by its probability mass, 0.3 × area.
  const [weak] = extractFindings(mapWithDiscs(60, 60, [{ x: 30, y: 30, r: 12, p: 0.3 }]), geometry, {
    ...options,
    threshold: 0.2,
  });
  assert.ok(weak && Math.abs(weak.areaMm2 - 0.3 * Math.PI * 144) < 8, `area ${weak?.areaMm2}`);
});

test("a manifest's calibration maps finding scores monotonically; without one they are the map's own", () => {
  const map = mapWithDiscs(100, 100, [
    { x: 30, y: 30, r: 8, p: 0.95 },
    { x: 70, y: 70, r: 8, p: 0.6 },
  ]);
  const manifest = {
    output: { stride: 1 },
    thresholds: { finding: 0.5, minAreaMm2: 1, maxFindings: 10 },
  } as unknown as ModelManifest;
  const attrs = { rows: 100, columns: 100, pixelSpacingMm: [0.4, 0.4] as [number, number], acquisition: 'digital' as const };
  const input = { scale: 1, mirrored: false };
  const raw = findingsOfMap(map, input, attrs, manifest).map((f) => f.score);
  assert.deepEqual(raw, [0.95, 0.6]);
  // An overconfident model: its 0.95 is right about 70 % of the time, its 0.6 about 35 %.
  const calibrated = findingsOfMap(map, input, attrs, { ...manifest, calibration: { method: 'platt', a: 0.5, b: -0.6 } });
  const scores = calibrated.map((f) => f.score);
  assert.ok(Math.abs((scores[0] ?? 0) - calibratedScore(0.95, { a: 0.5, b: -0.6 })) < 1e-4);
  assert.ok((scores[0] ?? 0) < 0.95 && (scores[1] ?? 0) < 0.6 && (scores[0] ?? 0) > (scores[1] ?? 0), String(scores));
  // Everything but the score is the same finding.
  assert.deepEqual(
    calibrated.map(({ score: _, ...rest }) => rest),
    findingsOfMap(map, input, attrs, manifest).map(({ score: _, ...rest }) => rest),
  );
});

test("a model with a film branch reads film at the branch's own threshold and calibration, digital at the manifest's", () => {
  const map = mapWithDiscs(100, 100, [
    { x: 30, y: 30, r: 8, p: 0.95 },
    { x: 70, y: 70, r: 8, p: 0.3 },
  ]);
  const manifest = {
    output: { stride: 1 },
    thresholds: { finding: 0.5, minAreaMm2: 1, maxFindings: 10 },
    calibration: { method: 'platt', a: 1, b: 0 },
    branches: { selector: 'film', film: { finding: 0.2, calibration: { method: 'platt', a: 0.5, b: -1 } } },
  } as unknown as ModelManifest;
  const geometry = { rows: 100, columns: 100, pixelSpacingMm: [0.4, 0.4] as [number, number] };
  const input = { scale: 1, mirrored: false };
  const digital = findingsOfMap(map, input, { ...geometry, acquisition: 'digital' }, manifest).map((f) => f.score);
  const film = findingsOfMap(map, input, { ...geometry, acquisition: 'film' }, manifest).map((f) => f.score);
  // Digital: only the 0.95 peak passes 0.5, and σ(logit(p)) is p itself.
  assert.deepEqual(digital, [0.95]);
  // Film: both peaks pass the branch's 0.2, through the branch's calibration.
  assert.equal(film.length, 2);
  assert.ok(Math.abs((film[0] ?? 0) - calibratedScore(0.95, { a: 0.5, b: -1 })) < 1e-4, String(film));
  assert.ok(Math.abs((film[1] ?? 0) - calibratedScore(0.3, { a: 0.5, b: -1 })) < 1e-4, String(film));
});
