// Lesion-level FROC as the field reports it (issue 26): sensitivity against false marks per image,
// with 95 % intervals by bootstrap over women (images of one woman are not independent), the
// operating point at ≤ 1 false mark per image, sensitivity per lesion class there, and the image
// AUC (abnormal vs normal). Two ways to count false marks, as the datasets allow:
// - `normal`: marks on normal images only, per normal image (mini-MIAS, phantoms: normals exist);
// - `outside`: marks away from every outlined lesion, per image (CDD-CESM has no normal image).
// A mark finds a lesion when its centre is within the lesion's radius (at least 5 mm) and it is no
// larger than three times the lesion (from 10 mm): a breast-sized mark finds nothing.
import { Rng } from '../phantoms/random.js';
import type { InferredCohort } from './infer-cohort.js';
import { aucInterval, hitRadiusMm, type Interval, maxMarkDiameterMm, rocAuc, round3, roundInterval, wilson } from './metrics.js';

export type FalseMarkRule = 'normal' | 'outside';

export interface FrocCurvePoint {
  threshold: number;
  marksPerImage: number;
  sensitivity: number;
}

export interface FrocReport {
  rule: FalseMarkRule;
  women: number;
  images: number;
  /** Images the false marks are counted over (normal images, or every image). */
  falseMarkImages: number;
  lesions: number;
  curve: FrocCurvePoint[];
  /** The operating point: the lowest threshold with at most `maxMarks` false marks per image. */
  at: { maxMarks: number; threshold: number; marksPerImage: number; sensitivity: number; interval: Interval };
  byClass: Record<string, { lesions: number; found: number; sensitivity: number; interval: Interval }>;
  /** Abnormal vs normal images by the image score; null without both kinds. */
  imageAuc: { value: number; interval: Interval } | null;
}

interface Mark {
  image: number;
  woman: number;
  score: number;
  /** Counts as a false mark under the rule. */
  counts: boolean;
}

interface Lesion {
  image: number;
  woman: number;
  type: string;
  /** The highest score of a mark on it (0: never marked). */
  hitScore: number;
}

/** The marks and lesions of one inference pass, each lesion with the best score that finds it. */
function collect(cohort: InferredCohort, rule: FalseMarkRule) {
  const women = [...new Set(cohort.images.map((i) => i.patientId))];
  const womanOf = new Map(women.map((w, k) => [w, k]));
  const marks: Mark[] = [];
  const lesions: Lesion[] = [];
  const normalImage: boolean[] = [];
  const womanOfImage: number[] = [];
  const scores: number[] = [];
  const abnormal: boolean[] = [];
  for (const [n, { image, candidates, score, patientId }] of cohort.images.entries()) {
    const woman = womanOf.get(patientId) as number;
    const s = image.pixelSpacingMm;
    const normal = image.findings.length === 0 && (image.unlocated?.length ?? 0) === 0;
    normalImage.push(normal);
    womanOfImage.push(woman);
    scores.push(score);
    abnormal.push(!normal);
    const own = image.findings.map((f) => ({
      xMm: f.x * image.columns * s,
      yMm: f.y * image.rows * s,
      radiusMm: hitRadiusMm(f.diameterMm),
      maxMarkMm: maxMarkDiameterMm(f.diameterMm),
      lesion: { image: n, woman, type: f.type, hitScore: 0 } as Lesion,
    }));
    lesions.push(...own.map((o) => o.lesion));
    for (const c of candidates) {
      const xMm = c.x * image.columns * s;
      const yMm = c.y * image.rows * s;
      let onLesion = false;
      for (const o of own) {
        if (Math.hypot(o.xMm - xMm, o.yMm - yMm) <= o.radiusMm && c.diameterMm <= o.maxMarkMm) {
          onLesion = true;
          o.lesion.hitScore = Math.max(o.lesion.hitScore, c.score);
        }
      }
      marks.push({ image: n, woman, score: c.score, counts: rule === 'normal' ? normal : !onLesion });
    }
  }
  return { women: women.length, marks, lesions, normalImage, womanOfImage, scores, abnormal };
}

/** Sensitivity and false marks per image at every threshold of a (resampled) set. */
function sweep(
  marks: readonly Mark[],
  lesions: readonly Lesion[],
  falseMarkImages: number,
): { thresholds: number[]; marksPerImage: number[]; sensitivity: number[] } {
  const thresholds = [...new Set(marks.map((m) => m.score))].sort((a, b) => b - a);
  const falseScores = marks
    .filter((m) => m.counts)
    .map((m) => m.score)
    .sort((a, b) => b - a);
  const hitScores = lesions.map((l) => l.hitScore).sort((a, b) => b - a);
  const marksPerImage: number[] = [];
  const sensitivity: number[] = [];
  let f = 0;
  let h = 0;
  for (const t of thresholds) {
    while (f < falseScores.length && (falseScores[f] as number) >= t) f += 1;
    while (h < hitScores.length && (hitScores[h] as number) >= t && (hitScores[h] as number) > 0) h += 1;
    marksPerImage.push(falseMarkImages > 0 ? f / falseMarkImages : Number.NaN);
    sensitivity.push(lesions.length > 0 ? h / lesions.length : Number.NaN);
  }
  return { thresholds, marksPerImage, sensitivity };
}

/** The lowest threshold whose false marks stay within `maxMarks` per image (and its sensitivity). */
function operatingPoint(
  s: ReturnType<typeof sweep>,
  maxMarks: number,
): { threshold: number; marksPerImage: number; sensitivity: number } {
  let best = { threshold: Number.POSITIVE_INFINITY, marksPerImage: 0, sensitivity: 0 };
  for (const [k, t] of s.thresholds.entries()) {
    if ((s.marksPerImage[k] as number) <= maxMarks)
      best = { threshold: t, marksPerImage: s.marksPerImage[k] as number, sensitivity: s.sensitivity[k] as number };
    else break;
  }
  return best;
}

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.max(0, Math.floor(p * sorted.length)))] as number;

/**
 * How false marks are counted for a cohort, as the field reports them: per normal image where the
 * set has enough normals (≥ 10 and ≥ 10 % of its images), else outside the outlined lesions per
 * image (a set like CDD-CESM, with only a handful of images without a focal outline).
 */
export function frocRuleFor(cohort: InferredCohort): FalseMarkRule {
  const normals = cohort.images.filter((i) => i.image.findings.length === 0 && !(i.image.unlocated?.length ?? 0)).length;
  return normals >= 10 && normals >= 0.1 * cohort.images.length ? 'normal' : 'outside';
}

/** One line: the operating point with its interval and the image AUC. */
export function frocSummary(report: FrocReport): string {
  const a = report.at;
  const rule = report.rule === 'normal' ? 'false marks per normal image' : 'false marks outside the outlines per image';
  const auc = report.imageAuc
    ? `; image AUC ${report.imageAuc.value} [${report.imageAuc.interval.low}, ${report.imageAuc.interval.high}]`
    : '';
  return `FROC (${rule}, ${report.lesions} lesions, ${report.women} women): ${a.sensitivity} [${a.interval.low}, ${a.interval.high}] found at ${a.marksPerImage} ≤ ${a.maxMarks} marks/image (threshold ${a.threshold})${auc}`;
}

export function froc(
  cohort: InferredCohort,
  o: { rule: FalseMarkRule; maxMarks?: number; replicates?: number; seed?: number },
): FrocReport {
  const maxMarks = o.maxMarks ?? 1;
  const { women, marks, lesions, normalImage, womanOfImage, scores, abnormal } = collect(cohort, o.rule);
  const falseMarkImages = o.rule === 'normal' ? normalImage.filter(Boolean).length : cohort.images.length;
  const full = sweep(marks, lesions, falseMarkImages);
  const at = operatingPoint(full, maxMarks);

  // Bootstrap over women: each replicate draws women with replacement, keeps all their images,
  // and finds its own operating point at the same false-mark budget.
  const rng = new Rng(o.seed ?? 20261206);
  const rand = () => rng.next();
  const byWomanMarks = Array.from({ length: women }, () => [] as Mark[]);
  const byWomanLesions = Array.from({ length: women }, () => [] as Lesion[]);
  const byWomanImages = Array.from({ length: women }, () => 0);
  for (const m of marks) byWomanMarks[m.woman]?.push(m);
  for (const l of lesions) byWomanLesions[l.woman]?.push(l);
  for (const [n, woman] of womanOfImage.entries()) {
    if (o.rule === 'outside' || normalImage[n]) byWomanImages[woman] = (byWomanImages[woman] ?? 0) + 1;
  }
  const draws: number[] = [];
  for (let r = 0; r < (o.replicates ?? 500); r += 1) {
    const m: Mark[] = [];
    const l: Lesion[] = [];
    let imagesCounted = 0;
    for (let k = 0; k < women; k += 1) {
      const w = Math.floor(rand() * women);
      m.push(...(byWomanMarks[w] ?? []));
      l.push(...(byWomanLesions[w] ?? []));
      imagesCounted += byWomanImages[w] ?? 0;
    }
    if (l.length === 0 || imagesCounted === 0) continue;
    draws.push(operatingPoint(sweep(m, l, imagesCounted), maxMarks).sensitivity);
  }
  draws.sort((a, b) => a - b);

  const byClass: FrocReport['byClass'] = {};
  for (const lesion of lesions) {
    const entry = byClass[lesion.type] ?? { lesions: 0, found: 0, sensitivity: 0, interval: { value: 0, low: 0, high: 0 } };
    byClass[lesion.type] = entry;
    entry.lesions += 1;
    if (lesion.hitScore > 0 && lesion.hitScore >= at.threshold) entry.found += 1;
  }
  for (const entry of Object.values(byClass)) {
    entry.sensitivity = round3(entry.found / entry.lesions);
    entry.interval = roundInterval(wilson(entry.found, entry.lesions));
  }
  const positives = abnormal.filter(Boolean).length;
  const negatives = abnormal.length - positives;
  // An AUC over a handful of normal images says nothing (CDD-CESM has one or two): at least five of each.
  const auc = positives >= 5 && negatives >= 5 ? rocAuc(scores, abnormal) : null;
  return {
    rule: o.rule,
    women,
    images: cohort.images.length,
    falseMarkImages,
    lesions: lesions.length,
    curve: full.thresholds.map((threshold, k) => ({
      threshold: round3(threshold),
      marksPerImage: round3(full.marksPerImage[k] as number),
      sensitivity: round3(full.sensitivity[k] as number),
    })),
    at: {
      maxMarks,
      threshold: round3(at.threshold),
      marksPerImage: round3(at.marksPerImage),
      sensitivity: round3(at.sensitivity),
      interval:
        draws.length > 0
          ? { value: round3(at.sensitivity), low: round3(percentile(draws, 0.025)), high: round3(percentile(draws, 0.975)) }
          : { value: round3(at.sensitivity), low: 0, high: 1 },
    },
    byClass,
    imageAuc: auc === null ? null : { value: round3(auc), interval: roundInterval(aucInterval(auc, positives, negatives)) },
  };
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

/** FROC curves of several sets (log scale of false marks per image, 0.05 to 8), the 1-mark line marked. */
/** Room for the longest legend line (about 6.5 px per character at 11 px sans-serif), at least 260 px. */
function legendWidth(curves: readonly { label: string; report: FrocReport }[]): number {
  const longest = Math.max(
    0,
    ...curves.map(
      ({ label, report: { at } }) =>
        `${label}: ${at.sensitivity} [${at.interval.low}, ${at.interval.high}] at ${at.marksPerImage}/image`.length,
    ),
  );
  return Math.max(260, Math.ceil(longest * 6.5) + 12);
}

export function frocSvg(curves: readonly { label: string; report: FrocReport }[], title: string): string {
  const width = 360;
  const height = 300;
  const pad = 46;
  const lo = Math.log10(0.05);
  const hi = Math.log10(8);
  const px = (v: number) => pad + ((Math.log10(Math.min(8, Math.max(0.05, v))) - lo) / (hi - lo)) * (width - 2 * pad);
  const py = (v: number) => height - pad - v * (height - 2 * pad);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width + legendWidth(curves)}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${pad}" y="16" font-weight="bold">${title}</text>`,
    `<line x1="${px(0.05)}" y1="${py(0)}" x2="${px(8)}" y2="${py(0)}" stroke="black"/>`,
    `<line x1="${px(0.05)}" y1="${py(0)}" x2="${px(0.05)}" y2="${py(1)}" stroke="black"/>`,
    `<line x1="${px(1)}" y1="${py(0)}" x2="${px(1)}" y2="${py(1)}" stroke="#999" stroke-dasharray="4 3"/>`,
    ...[0.05, 0.1, 0.25, 0.5, 1, 2, 4, 8].map((t) => `<text x="${px(t)}" y="${py(0) + 14}" text-anchor="middle">${t}</text>`),
    ...[0, 0.2, 0.4, 0.6, 0.8, 1].map((t) => `<text x="${px(0.05) - 6}" y="${py(t) + 4}" text-anchor="end">${t}</text>`),
    `<text x="${(px(0.05) + px(8)) / 2}" y="${height - 8}" text-anchor="middle">false marks per image (normal images, or outside the outlines)</text>`,
    `<text transform="translate(12 ${py(0.5)}) rotate(-90)" text-anchor="middle">lesions found</text>`,
  ];
  curves.forEach(({ label, report }, i) => {
    const colour = COLOURS[i % COLOURS.length];
    const points = report.curve
      .filter((p) => Number.isFinite(p.marksPerImage) && p.marksPerImage >= 0.05)
      .map((p) => `${px(p.marksPerImage).toFixed(1)},${py(p.sensitivity).toFixed(1)}`);
    parts.push(`<polyline fill="none" stroke="${colour}" stroke-width="2" points="${points.join(' ')}"/>`);
    const a = report.at;
    parts.push(
      `<line x1="${px(Math.max(0.05, a.marksPerImage))}" y1="${py(a.interval.low)}" x2="${px(Math.max(0.05, a.marksPerImage))}" y2="${py(a.interval.high)}" stroke="${colour}" stroke-width="3" stroke-opacity="0.5"/>`,
      `<circle cx="${px(Math.max(0.05, a.marksPerImage))}" cy="${py(a.sensitivity)}" r="4" fill="${colour}"/>`,
      `<text x="${width + 4}" y="${pad + 16 * i}" fill="${colour}">${label}: ${a.sensitivity} [${a.interval.low}, ${a.interval.high}] at ${a.marksPerImage}/image</text>`,
    );
  });
  parts.push('</svg>\n');
  return parts.join('\n');
}
