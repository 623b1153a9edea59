/**
 * The breast in a model input, and what is not breast: background, film labels, markers and (in an
 * MLO view) the pectoral muscle. Pure functions over the preprocessed tensor (values in [0, 1], the
 * chest wall on the left, letterboxed at the right and bottom), so the same code runs at training
 * and at the edge. Hand-written rather than taken from an image library: the work is a histogram,
 * one flood fill and a line fit over a ~0.4-Mpixel float array already in memory, and the libraries
 * at hand (sharp/libvips) have no connected components or robust line fit.
 */

/** The region the model should look at, and what was removed from the input. */
export interface BreastRegion {
  /** 1 where the breast is (after the pectoral muscle is removed), else 0; row-major, width×height. */
  mask: Uint8Array;
  /** Breast pixels. */
  area: number;
  /** The presentation value that separated tissue from background. */
  threshold: number;
  /** Pixels removed as labels, markers or other bright objects off the breast. */
  removedObjects: number;
  /** The pectoral muscle's edge, x = x0 + slope·y in input pixels (MLO views where it was found). */
  pectoral?: { x0: number; slope: number; pixels: number };
}

/** Otsu's threshold of a 256-bin histogram, in bin units. */
export function otsuBin(histogram: ArrayLike<number>): number {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < histogram.length; i++) {
    total += histogram[i] as number;
    sum += i * (histogram[i] as number);
  }
  let weightBelow = 0;
  let sumBelow = 0;
  let best = 0;
  let bestVariance = -1;
  for (let t = 0; t < histogram.length; t++) {
    weightBelow += histogram[t] as number;
    if (weightBelow === 0) continue;
    const weightAbove = total - weightBelow;
    if (weightAbove === 0) break;
    sumBelow += t * (histogram[t] as number);
    const meanBelow = sumBelow / weightBelow;
    const meanAbove = (sum - sumBelow) / weightAbove;
    const variance = weightBelow * weightAbove * (meanBelow - meanAbove) ** 2;
    if (variance > bestVariance) {
      bestVariance = variance;
      best = t;
    }
  }
  return best;
}

/** Bridges up to 2·BRIDGE_RADIUS input pixels wide (about 5 mm) do not join objects to the breast. */
const BRIDGE_RADIUS = 3;

/** A binary erosion ('min') or dilation ('max') by a (2r+1)² square, as two separable passes. */
function squareFilter(on: Uint8Array, width: number, height: number, r: number, kind: 'min' | 'max'): Uint8Array {
  // Each pass keeps a running count of set pixels in the window: set if all (min) or any (max) are.
  const full = 2 * r + 1;
  const decide = (count: number, window: number) => ((kind === 'max' ? count > 0 : count === window && window === full) ? 1 : 0);
  const horizontal = new Uint8Array(on.length);
  for (let y = 0; y < height; y++) {
    const row = y * width;
    let count = 0;
    for (let x = 0; x < Math.min(r, width); x++) count += on[row + x] as number;
    for (let x = 0; x < width; x++) {
      if (x + r < width) count += on[row + x + r] as number;
      if (x - r - 1 >= 0) count -= on[row + x - r - 1] as number;
      horizontal[row + x] = decide(count, Math.min(width - 1, x + r) - Math.max(0, x - r) + 1);
    }
  }
  const out = new Uint8Array(on.length);
  const counts = new Int32Array(width);
  for (let y = 0; y < Math.min(r, height); y++)
    for (let x = 0; x < width; x++) counts[x] = (counts[x] as number) + (horizontal[y * width + x] as number);
  for (let y = 0; y < height; y++) {
    const window = Math.min(height - 1, y + r) - Math.max(0, y - r) + 1;
    const add = y + r < height ? (y + r) * width : -1;
    const drop = y - r - 1 >= 0 ? (y - r - 1) * width : -1;
    for (let x = 0; x < width; x++) {
      let c = counts[x] as number;
      if (add >= 0) c += horizontal[add + x] as number;
      if (drop >= 0) c -= horizontal[drop + x] as number;
      counts[x] = c;
      out[y * width + x] = decide(c, window);
    }
  }
  return out;
}

/** Labels of 4-connected components of `on` (0 = off), and each label's size (index = label). */
function components(on: Uint8Array, width: number, height: number): { labels: Int32Array; sizes: number[] } {
  const labels = new Int32Array(width * height);
  const sizes = [0];
  const queue = new Int32Array(width * height);
  for (let start = 0; start < on.length; start++) {
    if (!on[start] || labels[start]) continue;
    const label = sizes.length;
    let head = 0;
    let tail = 0;
    queue[tail++] = start;
    labels[start] = label;
    while (head < tail) {
      const p = queue[head++] as number;
      const x = p % width;
      if (x > 0 && on[p - 1] && !labels[p - 1]) {
        labels[p - 1] = label;
        queue[tail++] = p - 1;
      }
      if (x < width - 1 && on[p + 1] && !labels[p + 1]) {
        labels[p + 1] = label;
        queue[tail++] = p + 1;
      }
      if (p >= width && on[p - width] && !labels[p - width]) {
        labels[p - width] = label;
        queue[tail++] = p - width;
      }
      if (p + width < on.length && on[p + width] && !labels[p + width]) {
        labels[p + width] = label;
        queue[tail++] = p + width;
      }
    }
    sizes.push(tail);
  }
  return { labels, sizes };
}

/**
 * The breast: the largest connected region brighter than the tissue threshold (a quarter of the way from the
 * background to Otsu's split, so that fatty tissue counts), with its enclosed darker parts kept;
 * everything else reachable from the image border without crossing the breast (background, film
 * labels, markers, scanner edges) is outside it.
 */
export function findBreast(
  tensor: Float32Array,
  width: number,
  height: number,
  valid: { width: number; height: number },
): BreastRegion {
  const histogram = new Uint32Array(256);
  let count = 0;
  for (let y = 0; y < valid.height; y++)
    for (let x = 0; x < valid.width; x++) {
      const bin = Math.min(255, Math.max(0, Math.floor((tensor[y * width + x] as number) * 256)));
      histogram[bin] = (histogram[bin] as number) + 1;
      count += 1;
    }
  let cumulative = 0;
  let backgroundBin = 0;
  for (let bin = 0; bin < 256; bin++) {
    cumulative += histogram[bin] as number;
    if (cumulative >= count * 0.02) {
      backgroundBin = bin;
      break;
    }
  }
  const split = otsuBin(histogram);
  const threshold = (backgroundBin + Math.max(5, (split - backgroundBin) / 4)) / 256;
  const on = new Uint8Array(width * height);
  for (let y = 0; y < valid.height; y++)
    for (let x = 0; x < valid.width; x++) if ((tensor[y * width + x] as number) > threshold) on[y * width + x] = 1;
  // Opening: thin bridges (a film edge along the border joining a label to the breast) are cut
  // before the largest region is chosen, and the breast is grown back to its own outline.
  const core = squareFilter(on, width, height, BRIDGE_RADIUS, 'min');
  const { labels: coreLabels, sizes } = components(core, width, height);
  let coreLabel = 0;
  for (let l = 1; l < sizes.length; l++) if ((sizes[l] as number) > (sizes[coreLabel] as number)) coreLabel = l;
  const seedMask = new Uint8Array(width * height);
  if (coreLabel) for (let p = 0; p < seedMask.length; p++) if (coreLabels[p] === coreLabel) seedMask[p] = 1;
  const grown = squareFilter(seedMask, width, height, BRIDGE_RADIUS + 1, 'max');
  const labels = new Int32Array(width * height);
  for (let p = 0; p < labels.length; p++) if (grown[p] && on[p]) labels[p] = 1;
  const breastLabel = coreLabel ? 1 : 0;
  // Flood from the border through everything that is not the breast: what it reaches is outside.
  const outside = new Uint8Array(width * height);
  const queue = new Int32Array(width * height);
  let tail = 0;
  const seed = (p: number) => {
    if (outside[p] || (breastLabel && labels[p] === breastLabel)) return;
    outside[p] = 1;
    queue[tail++] = p;
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  for (let head = 0; head < tail; head++) {
    const p = queue[head] as number;
    const x = p % width;
    if (x > 0) seed(p - 1);
    if (x < width - 1) seed(p + 1);
    if (p >= width) seed(p - width);
    if (p + width < on.length) seed(p + width);
  }
  const mask = new Uint8Array(width * height);
  let area = 0;
  let removedObjects = 0;
  for (let p = 0; p < mask.length; p++) {
    if (outside[p]) {
      if (on[p]) removedObjects += 1;
    } else {
      mask[p] = 1;
      area += 1;
    }
  }
  return { mask, area, threshold, removedObjects };
}

/**
 * The pectoral muscle of an MLO view (chest wall on the left): a bright band across the top-left
 * corner whose edge is close to a straight line from the top border down to the chest wall. Each
 * row of the upper breast proposes the strongest bright-to-dark step in its left part; a RANSAC line
 * through those proposals is accepted when most rows agree, it runs from the top edge down and to
 * the left, and the side it cuts off is brighter than the tissue beside it. Undefined when no such
 * edge is there (a CC view, or a muscle the image does not show).
 */
export function findPectoral(
  tensor: Float32Array,
  width: number,
  region: BreastRegion,
  height: number,
): BreastRegion['pectoral'] {
  const { mask } = region;
  // Each row's breast extent: [left, right) (the chest wall side of a film may sit off the border).
  const lefts = new Int32Array(height).fill(-1);
  const rights = new Int32Array(height);
  let top = -1;
  let bottom = -1;
  for (let y = 0; y < height; y++) {
    let x = 0;
    while (x < width && !mask[y * width + x]) x++;
    if (x === width) continue;
    let end = x;
    while (end < width && mask[y * width + end]) end++;
    lefts[y] = x;
    rights[y] = end;
    if (top < 0) top = y;
    bottom = y;
  }
  if (top < 0 || bottom - top < 32) return undefined;
  const span = bottom - top;
  const step = 3; // the half-width of the difference taken along each row
  const points: { x: number; y: number }[] = [];
  for (let y = top; y < top + span * 0.6; y += 2) {
    const left = lefts[y] as number;
    const rowWidth = (rights[y] as number) - left;
    if (left < 0 || rowWidth < 24) continue;
    let bestX = -1;
    let bestDrop = 0.02;
    for (let x = left + 4 + step; x < left + rowWidth * 0.8 - step; x++) {
      const drop = (tensor[y * width + x - step] as number) - (tensor[y * width + x + step] as number);
      if (drop > bestDrop) {
        bestDrop = drop;
        bestX = x;
      }
    }
    if (bestX >= 0) points.push({ x: bestX, y });
  }
  if (points.length < 12) return undefined;
  // Deterministic RANSAC: every pair of a subsample (the result must not depend on a random seed).
  const sample = points.filter((_, i) => i % Math.max(1, Math.floor(points.length / 40)) === 0);
  let best: { x0: number; slope: number; inliers: number } | undefined;
  for (let i = 0; i < sample.length; i++)
    for (let j = i + 1; j < sample.length; j++) {
      const a = sample[i] as { x: number; y: number };
      const b = sample[j] as { x: number; y: number };
      if (Math.abs(b.y - a.y) < span * 0.1) continue;
      const slope = (b.x - a.x) / (b.y - a.y);
      if (slope > -0.2 || slope < -4) continue; // down and to the left, neither flat nor vertical
      const x0 = a.x - slope * a.y;
      let inliers = 0;
      for (const p of points) if (Math.abs(p.x - (x0 + slope * p.y)) <= 4) inliers += 1;
      if (!best || inliers > best.inliers) best = { x0, slope, inliers };
    }
  if (!best || best.inliers < Math.max(12, points.length * 0.35)) return undefined;
  const xTop = best.x0 + best.slope * top;
  if (xTop < (lefts[top] as number) + 12) return undefined;
  // The side cut off must be brighter than a band of tissue just beside the line.
  let inside = 0;
  let insideCount = 0;
  let beside = 0;
  let besideCount = 0;
  let pixels = 0;
  for (let y = top; y <= bottom; y++) {
    const edge = best.x0 + best.slope * y;
    if (edge <= 0) break;
    for (let x = 0; x < Math.min(width, edge + 24); x++) {
      const p = y * width + x;
      if (!mask[p]) continue;
      if (x < edge) {
        inside += tensor[p] as number;
        insideCount += 1;
        pixels += 1;
      } else {
        beside += tensor[p] as number;
        besideCount += 1;
      }
    }
  }
  if (insideCount === 0 || besideCount === 0 || inside / insideCount < beside / besideCount + 0.03) return undefined;
  // The muscle is a corner, not most of the breast.
  if (pixels > region.area * 0.35) return undefined;
  return { x0: best.x0, slope: best.slope, pixels };
}

/** Removes the pectoral muscle's side of its edge from the region's mask. */
export function withoutPectoral(
  region: BreastRegion,
  width: number,
  height: number,
  pectoral: NonNullable<BreastRegion['pectoral']>,
): BreastRegion {
  const mask = region.mask.slice();
  let removed = 0;
  for (let y = 0; y < height; y++) {
    const edge = pectoral.x0 + pectoral.slope * y;
    for (let x = 0; x < Math.min(width, edge); x++) {
      const p = y * width + x;
      if (mask[p]) {
        mask[p] = 0;
        removed += 1;
      }
    }
  }
  return { ...region, mask, area: region.area - removed, pectoral };
}

/** Where the breast's darkest normalised value lands: above the 0 outside it, so its edge stays visible. */
export const BREAST_FLOOR = 0.1;

/**
 * Zeroes everything outside the region and stretches the breast's own intensities (its 1st to
 * 99.5th percentile) over [BREAST_FLOOR, 1]: film and digital images, fatty and dense breasts, reach
 * the network on one scale.
 */
export function normaliseBreast(tensor: Float32Array, region: BreastRegion): void {
  const histogram = new Uint32Array(1024);
  for (let p = 0; p < tensor.length; p++) {
    if (!region.mask[p]) continue;
    const bin = Math.min(1023, Math.max(0, Math.floor((tensor[p] as number) * 1024)));
    histogram[bin] = (histogram[bin] as number) + 1;
  }
  const percentile = (q: number) => {
    let cumulative = 0;
    for (let bin = 0; bin < 1024; bin++) {
      cumulative += histogram[bin] as number;
      if (cumulative >= region.area * q) return bin / 1024;
    }
    return 1;
  };
  const low = percentile(0.01);
  const high = Math.max(low + 1 / 64, percentile(0.995));
  for (let p = 0; p < tensor.length; p++) {
    tensor[p] = region.mask[p]
      ? BREAST_FLOOR + (1 - BREAST_FLOOR) * Math.min(1, Math.max(0, ((tensor[p] as number) - low) / (high - low)))
      : 0;
  }
}
