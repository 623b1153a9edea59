/** Image-level ROC AUC by the rank-sum (Mann–Whitney U) statistic; ties count one half. */
export function rocAuc(scores: readonly number[], labels: readonly boolean[]): number {
  const items = scores.map((s, i) => ({ s, positive: labels[i] === true })).sort((a, b) => a.s - b.s);
  let rankSum = 0;
  let positives = 0;
  for (let i = 0; i < items.length; ) {
    let j = i;
    while (j < items.length && items[j]?.s === items[i]?.s) j++;
    const averageRank = (i + j + 1) / 2;
    for (let k = i; k < j; k++) {
      if (items[k]?.positive) {
        rankSum += averageRank;
        positives++;
      }
    }
    i = j;
  }
  const negatives = items.length - positives;
  if (positives === 0 || negatives === 0) return Number.NaN;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface Candidate {
  image: number;
  /** Position in mm in the image plane. */
  xMm: number;
  yMm: number;
  diameterMm: number;
  score: number;
}

export interface TruthLesion {
  image: number;
  xMm: number;
  yMm: number;
  diameterMm: number;
}

/** How far from a lesion's centre a reported finding still counts as on it: its radius, at least 5 mm. */
export function hitRadiusMm(lesionDiameterMm: number): number {
  return Math.max(5, lesionDiameterMm / 2);
}

/**
 * The largest reported finding that still points at a lesion: three times its diameter, counted from
 * at least 10 mm. A breast-sized mark whose centre happens to fall inside a large outlined cancer
 * does not find it (the FROC counts it as a false mark instead).
 */
export function maxMarkDiameterMm(lesionDiameterMm: number): number {
  return 3 * Math.max(10, lesionDiameterMm);
}

/** Three decimals, for reported figures. */
export function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

export interface FrocPoint {
  threshold: number;
  sensitivity: number;
  falsePositivesPerImage: number;
  sizeErrorsMm: number[];
  /** Indices into `lesions` of the lesions hit at this threshold. */
  hits: number[];
}

/**
 * Lesion-level operating points: a candidate hits a lesion when its centre is within the lesion's
 * radius (at least 5 mm) of the lesion centre; each lesion counts once, other candidates are false
 * positives — except candidates on `ignored` lesions (real findings outside the analysis, e.g.
 * smaller than its size limit), which are neither hits nor false positives.
 */
export function frocPoints(
  candidates: readonly Candidate[],
  lesions: readonly TruthLesion[],
  images: number,
  ignored: readonly TruthLesion[] = [],
): FrocPoint[] {
  const near = (l: TruthLesion, c: Candidate) =>
    l.image === c.image && Math.hypot(l.xMm - c.xMm, l.yMm - c.yMm) <= hitRadiusMm(l.diameterMm);
  const thresholds = [...new Set(candidates.map((c) => c.score))].sort((a, b) => b - a);
  return thresholds.map((threshold) => {
    const kept = candidates.filter((c) => c.score >= threshold);
    const hit = new Map<number, number>();
    let falsePositives = 0;
    for (const c of kept) {
      const index = lesions.findIndex((l, i) => !hit.has(i) && near(l, c));
      if (index >= 0) hit.set(index, Math.abs(c.diameterMm - (lesions[index] as TruthLesion).diameterMm));
      else if (!lesions.some((l) => near(l, c)) && !ignored.some((l) => near(l, c))) falsePositives++;
    }
    return {
      threshold,
      sensitivity: lesions.length === 0 ? Number.NaN : hit.size / lesions.length,
      falsePositivesPerImage: falsePositives / Math.max(1, images),
      sizeErrorsMm: [...hit.values()],
      hits: [...hit.keys()],
    };
  });
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

/** A figure with its 95 % interval. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

const Z95 = 1.959964;

/**
 * Wilson score interval for a proportion k/n (95 %). Written here rather than taken from a
 * statistics package: it is four lines, and the usual packages (jStat, simple-statistics) do not
 * offer it directly. For n = 0 the proportion is undefined: NaN with the whole [0, 1] range.
 */
export function wilson(k: number, n: number): Interval {
  if (n === 0) return { value: Number.NaN, low: 0, high: 1 };
  const p = k / n;
  const denom = 1 + (Z95 * Z95) / n;
  const centre = (p + (Z95 * Z95) / (2 * n)) / denom;
  const half = (Z95 * Math.sqrt((p * (1 - p)) / n + (Z95 * Z95) / (4 * n * n))) / denom;
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half) };
}

/**
 * 95 % interval of a Poisson rate: `count` events over `exposure` (e.g. patient-years), by Byar's
 * approximation to the exact (Garwood) limits, good to a few per cent even for small counts.
 */
export function poissonRate(count: number, exposure: number): Interval {
  if (exposure <= 0) return { value: Number.NaN, low: 0, high: Number.POSITIVE_INFINITY };
  const lower = count === 0 ? 0 : count * (1 - 1 / (9 * count) - Z95 / (3 * Math.sqrt(count))) ** 3;
  const u = count + 1;
  const upper = u * (1 - 1 / (9 * u) + Z95 / (3 * Math.sqrt(u))) ** 3;
  return { value: count / exposure, low: lower / exposure, high: upper / exposure };
}

/**
 * The median with a distribution-free 95 % interval from order statistics: the ranks whose
 * binomial(n, ½) probabilities leave at most 2.5 % on each side (normal approximation of the ranks).
 */
export function medianInterval(values: readonly number[]): Interval {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return { value: Number.NaN, low: Number.NaN, high: Number.NaN };
  const half = (Z95 * Math.sqrt(n)) / 2;
  const lowRank = Math.max(1, Math.floor(n / 2 - half));
  const highRank = Math.min(n, Math.ceil(1 + n / 2 + half));
  return { value: median(sorted), low: sorted[lowRank - 1] as number, high: sorted[highRank - 1] as number };
}

/**
 * 95 % interval of a ROC AUC by Hanley and McNeil's standard error (from the AUC and the numbers of
 * positive and negative images).
 */
export function aucInterval(auc: number, positives: number, negatives: number): Interval {
  if (!Number.isFinite(auc) || positives === 0 || negatives === 0) return { value: auc, low: Number.NaN, high: Number.NaN };
  const q1 = auc / (2 - auc);
  const q2 = (2 * auc * auc) / (1 + auc);
  const variance =
    (auc * (1 - auc) + (positives - 1) * (q1 - auc * auc) + (negatives - 1) * (q2 - auc * auc)) / (positives * negatives);
  const half = Z95 * Math.sqrt(Math.max(0, variance));
  return { value: auc, low: Math.max(0, auc - half), high: Math.min(1, auc + half) };
}

/** An interval's three figures to three decimals, for reports. */
export function roundInterval(i: Interval): Interval {
  return { value: round3(i.value), low: round3(i.low), high: round3(i.high) };
}
