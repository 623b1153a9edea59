import type { ImageAttributes, VoiLut } from './image-attributes.js';
import type { StoredPixels } from './pixel-data.js';

/**
 * The grayscale pipeline of PS3.4 Annex N / PS3.3 C.11: stored values → modality LUT (rescale) →
 * VOI (window or LUT) → presentation (MONOCHROME1 inverted), giving values in [0, 1] that the
 * preprocessing turns into model input. Pure functions, no I/O.
 */

/** Modality LUT: rescale slope and intercept (C.11.1). */
export function applyModalityLut(pixels: StoredPixels | Float32Array, slope: number, intercept: number): Float32Array {
  const out = new Float32Array(pixels.length);
  for (let i = 0; i < pixels.length; i++) out[i] = (pixels[i] as number) * slope + intercept;
  return out;
}

export type VoiFunction = 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';

/** Window centre/width to [0, 1] (C.11.2.1.2); width < 1 is invalid for LINEAR and clamped. */
export function applyWindow(values: Float32Array, center: number, width: number, fn: VoiFunction = 'LINEAR'): Float32Array {
  const out = new Float32Array(values.length);
  if (fn === 'SIGMOID') {
    for (let i = 0; i < values.length; i++) out[i] = 1 / (1 + Math.exp((-4 * ((values[i] as number) - center)) / width));
    return out;
  }
  if (fn === 'LINEAR_EXACT') {
    const w = Math.max(width, Number.EPSILON);
    const lo = center - w / 2;
    for (let i = 0; i < values.length; i++) out[i] = Math.min(1, Math.max(0, ((values[i] as number) - lo) / w));
    return out;
  }
  const w = Math.max(width, 1);
  const lo = center - 0.5 - (w - 1) / 2;
  const hi = center - 0.5 + (w - 1) / 2;
  for (let i = 0; i < values.length; i++) {
    const x = values[i] as number;
    out[i] = x <= lo ? 0 : x > hi ? 1 : (x - (center - 0.5)) / (w - 1) + 0.5;
  }
  return out;
}

/** VOI LUT (C.11.2.1.1): values below/above the table take its first/last entry. */
export function applyVoiLut(values: Float32Array, lut: VoiLut): Float32Array {
  const out = new Float32Array(values.length);
  const last = lut.data.length - 1;
  const scale = 2 ** lut.bits - 1;
  for (let i = 0; i < values.length; i++) {
    const index = Math.min(last, Math.max(0, Math.round((values[i] as number) - lut.firstMapped)));
    out[i] = (lut.data[index] as number) / scale;
  }
  return out;
}

/** Without a window or LUT in the file: stretch the actual range (what viewers do by default). */
export function minMaxWindow(values: Float32Array): { center: number; width: number } {
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const width = Math.max(1, max - min);
  return { center: min + width / 2, width };
}

/** Stored grayscale values to presentation values in [0, 1]: modality LUT, VOI, MONOCHROME1 inversion. */
export function toPresentation(pixels: StoredPixels | Float32Array, attrs: ImageAttributes): Float32Array {
  const values = applyModalityLut(pixels, attrs.rescaleSlope, attrs.rescaleIntercept);
  let out: Float32Array;
  if (attrs.voiLut) out = applyVoiLut(values, attrs.voiLut);
  else if (
    attrs.windowCenter !== undefined &&
    attrs.windowWidth !== undefined &&
    Number.isFinite(attrs.windowCenter) &&
    attrs.windowWidth > 0
  ) {
    out = applyWindow(values, attrs.windowCenter, attrs.windowWidth, attrs.voiLutFunction);
  } else {
    const { center, width } = minMaxWindow(values);
    out = applyWindow(values, center, width, 'LINEAR_EXACT');
  }
  if (attrs.photometric === 'MONOCHROME1') for (let i = 0; i < out.length; i++) out[i] = 1 - (out[i] as number);
  return out;
}

/** Full-range YCbCr (YBR_FULL, C.7.6.3.1.2) to RGB, 8-bit interleaved. */
export function ybrFullToRgb(pixels: StoredPixels): Uint8Array {
  const out = new Uint8Array(pixels.length);
  const clamp = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : Math.round(v));
  for (let i = 0; i < pixels.length; i += 3) {
    const y = pixels[i] as number;
    const cb = (pixels[i + 1] as number) - 128;
    const cr = (pixels[i + 2] as number) - 128;
    out[i] = clamp(y + 1.402 * cr);
    out[i + 1] = clamp(y - 0.344136 * cb - 0.714136 * cr);
    out[i + 2] = clamp(y + 1.772 * cb);
  }
  return out;
}
