import type { StoredPixels } from './pixel-data.js';

export interface PixelStats {
  min: number;
  max: number;
  mean: number;
}

/** Min, max and mean after the modality LUT (rescale slope/intercept, PS3.3 C.11.1). */
export function pixelStats(pixels: StoredPixels, slope = 1, intercept = 0): PixelStats {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let i = 0; i < pixels.length; i++) {
    const v = pixels[i] as number;
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
  }
  const a = min * slope + intercept;
  const b = max * slope + intercept;
  const round = (n: number) => Math.round(n * 1e4) / 1e4;
  return {
    min: round(Math.min(a, b)),
    max: round(Math.max(a, b)),
    mean: round((sum / Math.max(1, pixels.length)) * slope + intercept),
  };
}
