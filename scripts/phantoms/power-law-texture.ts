import type { Rng } from './random.js';

/** In-place radix-2 FFT of one line (re, im of length n, a power of two). */
function fft1d(re: Float64Array, im: Float64Array, inverse: boolean): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j] as number, re[i] as number];
      [im[i], im[j]] = [im[j] as number, im[i] as number];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const angle = ((inverse ? 2 : -2) * Math.PI) / len;
    const wr = Math.cos(angle);
    const wi = Math.sin(angle);
    for (let i = 0; i < n; i += len) {
      let cr = 1;
      let ci = 0;
      for (let k = 0; k < len / 2; k++) {
        const a = i + k;
        const b = a + len / 2;
        const tr = (re[b] as number) * cr - (im[b] as number) * ci;
        const ti = (re[b] as number) * ci + (im[b] as number) * cr;
        re[b] = (re[a] as number) - tr;
        im[b] = (im[a] as number) - ti;
        re[a] = (re[a] as number) + tr;
        im[a] = (im[a] as number) + ti;
        const next = cr * wr - ci * wi;
        ci = cr * wi + ci * wr;
        cr = next;
      }
    }
  }
}

/**
 * Power-law ("1/f^β") noise, the standard model of mammographic parenchymal texture (β ≈ 3):
 * random phases, amplitude ∝ f^(−β/2), inverse 2D FFT. Returns a zero-mean, unit-variance,
 * tileable size×size field.
 */
export function powerLawTexture(size: number, beta: number, rng: Rng): Float32Array {
  const re = new Float64Array(size * size);
  const im = new Float64Array(size * size);
  for (let y = 0; y < size; y++) {
    const fy = y <= size / 2 ? y : y - size;
    for (let x = 0; x < size; x++) {
      const fx = x <= size / 2 ? x : x - size;
      const f = Math.hypot(fx, fy);
      if (f === 0) continue;
      const amplitude = f ** (-beta / 2) * rng.normal();
      const phase = rng.range(0, 2 * Math.PI);
      re[y * size + x] = amplitude * Math.cos(phase);
      im[y * size + x] = amplitude * Math.sin(phase);
    }
  }
  const rowRe = new Float64Array(size);
  const rowIm = new Float64Array(size);
  for (let pass = 0; pass < 2; pass++) {
    for (let line = 0; line < size; line++) {
      for (let i = 0; i < size; i++) {
        const index = pass === 0 ? line * size + i : i * size + line;
        rowRe[i] = re[index] as number;
        rowIm[i] = im[index] as number;
      }
      fft1d(rowRe, rowIm, true);
      for (let i = 0; i < size; i++) {
        const index = pass === 0 ? line * size + i : i * size + line;
        re[index] = rowRe[i] as number;
        im[index] = rowIm[i] as number;
      }
    }
  }
  let mean = 0;
  for (const v of re) mean += v;
  mean /= re.length;
  let variance = 0;
  for (const v of re) variance += (v - mean) ** 2;
  const sd = Math.sqrt(variance / re.length) || 1;
  const out = new Float32Array(size * size);
  for (let i = 0; i < out.length; i++) out[i] = ((re[i] as number) - mean) / sd;
  return out;
}

/** Bilinear sample of a tileable texture at texel coordinates (u, v). */
export function sampleTexture(texture: Float32Array, size: number, u: number, v: number): number {
  const x0 = Math.floor(u);
  const y0 = Math.floor(v);
  const fx = u - x0;
  const fy = v - y0;
  const m = size - 1;
  const i = (yy: number, xx: number) => texture[(yy & m) * size + (xx & m)] as number;
  const top = i(y0, x0) * (1 - fx) + i(y0, x0 + 1) * fx;
  const bottom = i(y0 + 1, x0) * (1 - fx) + i(y0 + 1, x0 + 1) * fx;
  return top * (1 - fy) + bottom * fy;
}
