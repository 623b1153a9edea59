import type { Finding } from '@vigil/shared';

export interface ProbabilityMap {
  data: Float32Array;
  width: number;
  height: number;
}

export interface Geometry {
  /** Source image size. */
  rows: number;
  columns: number;
  /** Model-map pixels per source pixel (the preprocess letterbox scale, adjusted for output stride). */
  scale: number;
  /** The input was mirrored (chest wall moved to the left): map back to the source orientation. */
  mirrored: boolean;
  /** Source pixel spacing in mm (row, column). */
  pixelSpacingMm: [number, number];
}

export interface FindingOptions {
  /** Probability above which a pixel belongs to a finding. */
  threshold: number;
  /**
   * Probability at which a finding's edge is measured (default 0.5: where a map trained on lesion
   * discs crosses from outside to inside). Independent of `threshold`, so a finding found at a low
   * operating threshold is not measured larger.
   */
  sizeThreshold?: number;
  /** Components smaller than this (in mm²) are noise. */
  minAreaMm2: number;
  maxFindings: number;
}

/**
 * Turns a lesion probability map into findings: threshold, 8-connected components, then for each
 * component its probability-weighted centroid (normalised to the source image, in the source
 * orientation), its area (pixels at or above `sizeThreshold`) and equivalent-circle diameter in mm
 * from the pixel spacing, and its peak probability as the score.
 */
export function extractFindings(map: ProbabilityMap, geometry: Geometry, options: FindingOptions): Finding[] {
  const { width, height, data } = map;
  const labels = new Int32Array(width * height);
  const stack: number[] = [];
  const findings: Finding[] = [];
  const mmPerMapPixel = [geometry.pixelSpacingMm[0] / geometry.scale, geometry.pixelSpacingMm[1] / geometry.scale] as const;
  const sizeThreshold = options.sizeThreshold ?? 0.5;
  let next = 0;
  for (let start = 0; start < data.length; start++) {
    if (labels[start] !== 0 || (data[start] as number) < options.threshold) continue;
    next += 1;
    labels[start] = next;
    stack.push(start);
    let inside = 0;
    let sumX = 0;
    let sumY = 0;
    let sumP = 0;
    let peak = 0;
    while (stack.length > 0) {
      const i = stack.pop() as number;
      const x = i % width;
      const y = (i - x) / width;
      const p = data[i] as number;
      if (p >= sizeThreshold) inside += 1;
      sumX += x * p;
      sumY += y * p;
      sumP += p;
      peak = Math.max(peak, p);
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          const ny = y + dy;
          if ((dx === 0 && dy === 0) || nx < 0 || ny < 0 || nx >= width || ny >= height) continue;
          const j = ny * width + nx;
          if (labels[j] === 0 && (data[j] as number) >= options.threshold) {
            labels[j] = next;
            stack.push(j);
          }
        }
      }
    }
    // A weak component (nothing above the size threshold) is measured by its probability mass.
    const areaMm2 = (inside > 0 ? inside : sumP) * mmPerMapPixel[0] * mmPerMapPixel[1];
    if (areaMm2 < options.minAreaMm2) continue;
    // Pixel centres: +0.5, back through the letterbox scale to source pixels, then normalised.
    const sourceX = (sumX / sumP + 0.5) / geometry.scale;
    const sourceY = (sumY / sumP + 0.5) / geometry.scale;
    let x = sourceX / geometry.columns;
    if (geometry.mirrored) x = 1 - x;
    const clamp = (v: number) => Math.min(1, Math.max(0, v));
    findings.push({
      x: Math.round(clamp(x) * 1e4) / 1e4,
      y: Math.round(clamp(sourceY / geometry.rows) * 1e4) / 1e4,
      areaMm2: Math.round(areaMm2 * 100) / 100,
      diameterMm: Math.round(2 * Math.sqrt(areaMm2 / Math.PI) * 100) / 100,
      score: Math.round(peak * 1e4) / 1e4,
    });
  }
  return findings.sort((a, b) => b.score - a.score).slice(0, options.maxFindings);
}

/** Image-level score: the highest lesion probability anywhere in the breast. */
export function imageScore(map: ProbabilityMap): number {
  let max = 0;
  for (const v of map.data) if (v > max) max = v;
  return Math.round(max * 1e4) / 1e4;
}
