// Reliability of finding scores: of the candidates scored about s, how many lie on a real finding?
// A calibrated model has that fraction ≈ s, so a threshold means the same across model versions.
import type { Finding } from '@vigil/shared';
import { matchTruth } from './alert-evaluation.js';
import { CANDIDATE_THRESHOLD, type InferredCohort } from './infer-cohort.js';
import { round3 } from './metrics.js';

export interface CalibrationBin {
  from: number;
  to: number;
  candidates: number;
  meanScore: number;
  /** Share of the bin's candidates that lie on a real finding. */
  onFinding: number;
}

export interface CalibrationCurve {
  candidates: number;
  bins: CalibrationBin[];
  /** Σ (bin share) × |mean score − share on a finding|. */
  expectedCalibrationError: number;
}

/**
 * Reliability of the candidates' scores. Candidates are extracted at a low probability
 * (CANDIDATE_THRESHOLD); their reported scores are calibrated when the model has a calibration, so
 * the bins span the whole range.
 */
export function calibrationCurve(cohort: InferredCohort, width = 0.1): CalibrationCurve {
  const edges: number[] = [];
  const from = cohort.model.calibrated ? 0 : CANDIDATE_THRESHOLD;
  for (let e = from; e < 1 - 1e-9; e += width) edges.push(round3(e));
  const bins = edges.map((from, i) => ({ from, to: edges[i + 1] ?? 1, n: 0, sum: 0, hits: 0 }));
  for (const r of cohort.images) {
    for (const c of r.candidates) {
      const bin = bins.findLast((b) => c.score >= b.from);
      if (!bin) continue;
      bin.n += 1;
      bin.sum += c.score;
      const m = matchTruth(r.image, c);
      if (m && m !== 'lookalike') bin.hits += 1;
    }
  }
  const total = bins.reduce((n, b) => n + b.n, 0);
  let ece = 0;
  const out = bins
    .filter((b) => b.n > 0)
    .map((b) => {
      ece += (b.n / total) * Math.abs(b.sum / b.n - b.hits / b.n);
      return { from: b.from, to: b.to, candidates: b.n, meanScore: round3(b.sum / b.n), onFinding: round3(b.hits / b.n) };
    });
  return { candidates: total, bins: out, expectedCalibrationError: round3(ece) };
}

/** Reported findings and whether each lies on a real lesion: what a calibration is fitted to. */
export function calibrationSamples(
  cohort: InferredCohort,
  marksOf: (image: InferredCohort['images'][number]) => readonly Finding[] = (image) => image.findings,
): { score: number; real: boolean }[] {
  return cohort.images.flatMap((r) =>
    marksOf(r).map((f) => {
      const m = matchTruth(r.image, f);
      return { score: f.score, real: m !== undefined && m !== 'lookalike' };
    }),
  );
}

/**
 * Platt scaling: the a, b of σ(a·logit(p) + b) that minimise the log loss over the samples, by
 * Newton's method (two parameters; written here because a logistic-regression package would be a
 * large dependency for a two-by-two solve), with Platt's smoothed targets against overconfidence.
 */
export function fitPlatt(samples: readonly { score: number; real: boolean }[]): { a: number; b: number } {
  const positives = samples.filter((s) => s.real).length;
  const negatives = samples.length - positives;
  const hi = (positives + 1) / (positives + 2);
  const lo = 1 / (negatives + 2);
  const data = samples.map((s) => {
    const q = Math.min(1 - 1e-6, Math.max(1e-6, s.score));
    return { z: Math.log(q / (1 - q)), t: s.real ? hi : lo };
  });
  /** Log loss against the smoothed targets. */
  const loss = (a: number, b: number) =>
    data.reduce((sum, { z, t }) => {
      const u = a * z + b;
      // log(1 + e^u) − t·u, written to stay finite for large |u|.
      return sum + (u > 0 ? u + Math.log1p(Math.exp(-u)) : Math.log1p(Math.exp(u))) - t * u;
    }, 0);
  let a = 1;
  let b = 0;
  for (let iteration = 0; iteration < 100; iteration++) {
    let ga = 0;
    let gb = 0;
    let haa = 1e-9;
    let hab = 0;
    let hbb = 1e-9;
    for (const { z, t } of data) {
      const p = 1 / (1 + Math.exp(-(a * z + b)));
      const w = p * (1 - p);
      ga += (p - t) * z;
      gb += p - t;
      haa += w * z * z;
      hab += w * z;
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    let da = (hbb * ga - hab * gb) / det;
    let db = (haa * gb - hab * ga) / det;
    // Backtracking: halve the Newton step until the loss goes down (Newton alone can overshoot).
    const current = loss(a, b);
    while (loss(a - da, b - db) > current && Math.abs(da) + Math.abs(db) > 1e-12) {
      da /= 2;
      db /= 2;
    }
    a -= da;
    b -= db;
    if (Math.abs(da) + Math.abs(db) < 1e-9) break;
  }
  return { a: Math.round(a * 1e4) / 1e4, b: Math.round(b * 1e4) / 1e4 };
}

const COLOURS = ['#1f6feb', '#d1242f', '#1a7f37', '#9a6700'];

/**
 * The reliability diagram as a small SVG: mean score (x) against the share on a real finding (y),
 * one line per cohort, the diagonal for perfect calibration. Written by hand: a plotting library
 * (vega, plotly) would be a large dependency for one static line chart in a document.
 */
export function calibrationSvg(curves: readonly { label: string; curve: CalibrationCurve }[], title = ''): string {
  const size = 320;
  const pad = 44;
  const px = (v: number) => pad + v * (size - 2 * pad);
  const py = (v: number) => size - pad - v * (size - 2 * pad);
  const ticks = [0, 0.2, 0.4, 0.6, 0.8, 1];
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${size + 150}" height="${size}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="16" font-weight="bold">${title}</text>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#999" stroke-dasharray="4 3"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(1)}" y2="${py(0)}" stroke="black"/>`,
    `<line x1="${px(0)}" y1="${py(0)}" x2="${px(0)}" y2="${py(1)}" stroke="black"/>`,
    ...ticks.flatMap((t) => [
      `<text x="${px(t)}" y="${py(0) + 14}" text-anchor="middle">${t}</text>`,
      `<text x="${px(0) - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`,
    ]),
    `<text x="${px(0.5)}" y="${size - 8}" text-anchor="middle">finding score (bin mean)</text>`,
    `<text transform="translate(12 ${py(0.5)}) rotate(-90)" text-anchor="middle">share on a real finding</text>`,
  ];
  curves.forEach(({ label, curve }, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = curve.bins.map((b) => `${px(b.meanScore).toFixed(1)},${py(b.onFinding).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>`);
    for (const b of curve.bins)
      parts.push(
        `<circle cx="${px(b.meanScore).toFixed(1)}" cy="${py(b.onFinding).toFixed(1)}" r="${Math.min(7, 2 + Math.sqrt(b.candidates) / 3).toFixed(1)}" fill="${colour}" fill-opacity="0.6"><title>${b.candidates} candidates</title></circle>`,
      );
    parts.push(
      `<text x="${size + 4}" y="${pad + 16 * i}" fill="${colour}">${label} (ECE ${curve.expectedCalibrationError})</text>`,
    );
  });
  parts.push('</svg>\n');
  return parts.join('\n');
}
