import { VigilError } from '@vigil/shared';
import sharp from 'sharp';
import { toPresentation } from '../imaging/display-transform.js';
import type { Acquisition, ImageAttributes } from '../imaging/image-attributes.js';
import type { StoredPixels } from '../imaging/pixel-data.js';
import { type BreastRegion, findBreast, findPectoral, normaliseBreast, withoutPectoral } from './breast-region.js';
import { COLUMN_SUMS_WASM } from './column-sums-wasm.js';

/** How a model wants its input (from the model manifest, see `inputSpecOf`). */
export interface InputSpec {
  width: number;
  height: number;
  /**
   * Average k×k blocks of stored values before the display transform (k = the integer part of the
   * downscale), so the per-pixel work of a 13-Mpixel mammogram is one pass; the manifest step
   * `box-downsample`. Models trained without it keep the older full-resolution path.
   */
  boxDownsample?: boolean;
  /**
   * Manifest step `breast-mask-normalise`: everything off the breast (background, film labels,
   * markers) set to 0 and the breast's intensities stretched to one scale (see breast-region.ts).
   */
  breastMask?: boolean;
  /** Manifest step `pectoral-mask-mlo`: in MLO views, the pectoral muscle is masked out too. */
  pectoralMask?: boolean;
  /** Scanned film is preprocessed this way instead (a model with a film branch of its own steps). */
  film?: Omit<InputSpec, 'film'>;
}

export interface ModelInput {
  /** NCHW float32 in [0, 1], N = C = 1. */
  tensor: Float32Array;
  dims: [1, 1, number, number];
  /** The image was mirrored so the chest wall is on the left (model outputs must be mirrored back). */
  mirrored: boolean;
  /** Which preprocessing (and which model branch) the image is for. */
  acquisition: Acquisition;
  /** Model-input pixels per source pixel, per axis (aspect ratio kept, letterboxed at the bottom/right). */
  scale: number;
  /** Share of the image brighter than its background: near 0 for a blank or empty exposure. */
  tissueFraction: number;
  /** The breast region (models with the `breast-mask-normalise` step): 1 = breast, row-major over the input. */
  breast?: Pick<BreastRegion, 'mask' | 'area' | 'removedObjects' | 'pectoral'>;
}

/** A model input made ahead of inference (in the decode worker), with the spec it was made for. */
export interface PreparedInput {
  spec: InputSpec;
  input: ModelInput;
  preprocessMs: number;
}

/** Presentation values this far above the image's background (its 2nd percentile) count as tissue. */
export const TISSUE_CONTRAST = 0.1;

/** Preprocessing steps this edge implements, in the order a manifest lists them. */
export const PREPROCESSING_STEPS = [
  'modality-lut',
  'box-downsample',
  'voi-window-or-lut',
  'monochrome1-invert',
  'chest-wall-left',
  'lanczos3-letterbox',
  'scale-0-1',
  'breast-mask-normalise',
  'pectoral-mask-mlo',
] as const;

/** The steps of a manifest this edge does not implement (a model that needs them must be refused at load). */
export function unsupportedPreprocessing(steps: readonly string[]): string[] {
  return steps.filter((s) => !(PREPROCESSING_STEPS as readonly string[]).includes(s));
}

/** The input spec a model manifest asks for (with its film branch's own steps, if it has them). */
export function inputSpecOf(manifest: {
  input: { width: number; height: number };
  preprocessing: readonly string[];
  branches?: { film: { preprocessing?: readonly string[] } };
}): InputSpec {
  const of = (steps: readonly string[]): Omit<InputSpec, 'film'> => ({
    width: manifest.input.width,
    height: manifest.input.height,
    boxDownsample: steps.includes('box-downsample'),
    breastMask: steps.includes('breast-mask-normalise'),
    pectoralMask: steps.includes('pectoral-mask-mlo'),
  });
  const film = manifest.branches?.film.preprocessing;
  return { ...of(manifest.preprocessing), ...(film ? { film: of(film) } : {}) };
}

export function sameInputSpec(a: InputSpec, b: InputSpec): boolean {
  const same = (x: Omit<InputSpec, 'film'>, y: Omit<InputSpec, 'film'>) =>
    x.width === y.width &&
    x.height === y.height &&
    Boolean(x.boxDownsample) === Boolean(y.boxDownsample) &&
    Boolean(x.breastMask) === Boolean(y.breastMask) &&
    Boolean(x.pectoralMask) === Boolean(y.pectoralMask);
  return same(a, b) && (a.film && b.film ? same(a.film, b.film) : a.film === b.film);
}

/** The manifest steps a spec stands for, in the order PREPROCESSING_STEPS lists them. */
export function preprocessingSteps(spec: InputSpec): string[] {
  return PREPROCESSING_STEPS.filter(
    (step) =>
      (step !== 'box-downsample' || spec.boxDownsample) &&
      (step !== 'breast-mask-normalise' || spec.breastMask) &&
      (step !== 'pectoral-mask-mlo' || spec.pectoralMask),
  );
}

/**
 * Mean of each k×k block of stored values (partial blocks at the right and bottom edges average
 * the pixels they have). The modality LUT is linear, so averaging stored values commutes with it.
 *
 * 16-bit images (every mammogram the edge has seen) take the WebAssembly path: the sums down each
 * band of k rows, 8 columns at a time (column-sums.wat), then each k columns of those sums here.
 * The sums are of integers, exact in any order, so both paths give the same float32 means, the
 * ones block-by-block summing gives (preprocess.test.ts): training tensors stay what they were.
 */
export function boxDownsample(
  pixels: StoredPixels,
  rows: number,
  columns: number,
  k: number,
): { pixels: Float32Array; rows: number; columns: number } {
  const wasm = pixels instanceof Uint16Array && pixels.length === rows * columns && k <= 256 ? columnSums() : undefined;
  if (!wasm) return boxDownsampleJs(pixels, rows, columns, k);
  const outColumns = Math.ceil(columns / k);
  const outRows = Math.ceil(rows / k);
  // Wasm memory: the image at 0, the band sums after it (16-byte aligned).
  const dst = Math.ceil((rows * columns * 2) / 16) * 16;
  const needed = dst + outRows * columns * 4;
  const have = wasm.memory.buffer.byteLength;
  if (have < needed) {
    // An image too large for 32-bit WebAssembly memory (or memory the process cannot get): the
    // JavaScript path, never a failed preprocess.
    if (needed > 2 ** 31) return boxDownsampleJs(pixels, rows, columns, k);
    try {
      wasm.memory.grow(Math.ceil((needed - have) / 65536));
    } catch {
      return boxDownsampleJs(pixels, rows, columns, k);
    }
  }
  new Uint16Array(wasm.memory.buffer, 0, rows * columns).set(pixels);
  wasm.columnSums(0, rows, columns, k, dst);
  const sums = new Uint32Array(wasm.memory.buffer, dst, outRows * columns);
  const out = new Float32Array(outColumns * outRows);
  for (let oy = 0; oy < outRows; oy++) {
    const blockRows = Math.min(rows, (oy + 1) * k) - oy * k;
    const row = oy * columns;
    for (let ox = 0, x = 0; ox < outColumns; ox++) {
      const xEnd = Math.min(columns, x + k);
      const blockColumns = xEnd - x;
      let s = 0;
      for (; x < xEnd; x++) s += sums[row + x] as number;
      out[oy * outColumns + ox] = s / (blockRows * blockColumns);
    }
  }
  return { pixels: out, rows: outRows, columns: outColumns };
}

interface ColumnSums {
  memory: { buffer: ArrayBuffer; grow(pages: number): number };
  columnSums(src: number, rows: number, columns: number, k: number, dst: number): void;
}
/** The runtime's WebAssembly API (this project's TypeScript libs declare no DOM or WebAssembly types). */
const { WebAssembly: wasmApi } = globalThis as unknown as {
  WebAssembly: { Module: new (bytes: Uint8Array) => object; Instance: new (module: object) => { exports: unknown } };
};
let columnSumsInstance: ColumnSums | null | undefined;

/**
 * The column-sums module, instantiated once per thread; undefined where the runtime lacks
 * WebAssembly SIMD (then the JavaScript path). Its memory grows to the largest image seen (about
 * 38 MB for 3328×4096) and stays, like the codecs' heaps.
 */
function columnSums(): ColumnSums | undefined {
  if (columnSumsInstance === undefined) {
    try {
      const module = new wasmApi.Module(Buffer.from(COLUMN_SUMS_WASM, 'base64'));
      columnSumsInstance = new wasmApi.Instance(module).exports as ColumnSums;
    } catch {
      columnSumsInstance = null;
    }
  }
  return columnSumsInstance ?? undefined;
}

/** `boxDownsample` in plain JavaScript: any stored type, block by block. */
function boxDownsampleJs(
  pixels: StoredPixels,
  rows: number,
  columns: number,
  k: number,
): { pixels: Float32Array; rows: number; columns: number } {
  const outColumns = Math.ceil(columns / k);
  const outRows = Math.ceil(rows / k);
  const out = new Float32Array(outColumns * outRows);
  const sums = new Float64Array(outColumns);
  for (let oy = 0; oy < outRows; oy++) {
    sums.fill(0);
    const yEnd = Math.min(rows, (oy + 1) * k);
    for (let y = oy * k; y < yEnd; y++) {
      const row = y * columns;
      for (let ox = 0, x = 0; ox < outColumns; ox++) {
        const xEnd = Math.min(columns, x + k);
        let s = 0;
        for (; x < xEnd; x++) s += pixels[row + x] as number;
        sums[ox] = (sums[ox] as number) + s;
      }
    }
    const blockRows = yEnd - oy * k;
    for (let ox = 0; ox < outColumns; ox++) {
      const blockColumns = Math.min(columns, (ox + 1) * k) - ox * k;
      out[oy * outColumns + ox] = (sums[ox] as number) / (blockRows * blockColumns);
    }
  }
  return { pixels: out, rows: outRows, columns: outColumns };
}

/**
 * Stored pixels → (box downsample) → presentation values (modality LUT, VOI, MONOCHROME1) → chest
 * wall on the left → resized with sharp (Lanczos) into a letterboxed width×height → float32 tensor.
 * The same code makes the training tensors, so training and serving see identical inputs.
 */
export async function preprocess(pixels: StoredPixels, attrs: ImageAttributes, model: InputSpec): Promise<ModelInput> {
  const spec = attrs.acquisition === 'film' && model.film ? model.film : model;
  try {
    return await toModelInput(pixels, attrs, spec);
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw new VigilError(
      'VIGIL_PREPROCESS_FAILED',
      `preprocessing ${attrs.columns}×${attrs.rows} into ${spec.width}×${spec.height} failed: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

async function toModelInput(pixels: StoredPixels, attrs: ImageAttributes, spec: Omit<InputSpec, 'film'>): Promise<ModelInput> {
  const scale = Math.min(spec.width / attrs.columns, spec.height / attrs.rows);
  const k = spec.boxDownsample ? Math.max(1, Math.floor(1 / scale)) : 1;
  const small = k > 1 ? boxDownsample(pixels, attrs.rows, attrs.columns, k) : undefined;
  const rows = small?.rows ?? attrs.rows;
  const columns = small?.columns ?? attrs.columns;
  const presentation = toPresentation(small?.pixels ?? pixels, small ? { ...attrs, rows, columns } : attrs);
  // Chest wall side: the breast (brighter) half of the image. The same pass keeps a histogram for
  // the tissue fraction (no extra pass over the pixels).
  const step = k > 1 ? 1 : 4;
  let left = 0;
  let right = 0;
  const histogram = new Uint32Array(256);
  let sampled = 0;
  for (let y = 0; y < rows; y += step) {
    for (let x = 0; x < columns; x += step) {
      const v = presentation[y * columns + x] as number;
      if (x < columns / 2) left += v;
      else right += v;
      const bin = Math.min(255, Math.max(0, Math.floor(v * 256)));
      histogram[bin] = (histogram[bin] as number) + 1;
      sampled += 1;
    }
  }
  const tissueFraction = tissueShare(histogram, sampled);
  const mirrored = right > left;
  const grey16 = new Uint16Array(rows * columns);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const source = presentation[y * columns + (mirrored ? columns - 1 - x : x)] as number;
      grey16[y * columns + x] = Math.round(Math.min(1, Math.max(0, source)) * 65535);
    }
  }
  const width = Math.max(1, Math.round(attrs.columns * scale));
  const height = Math.max(1, Math.round(attrs.rows * scale));
  // grey16 keeps one 16-bit channel: by default sharp would convert to 8-bit sRGB.
  const resized = await sharp(grey16, { raw: { width: columns, height: rows, channels: 1 } })
    .toColourspace('grey16')
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .extend({ right: spec.width - width, bottom: spec.height - height, background: { r: 0, g: 0, b: 0 } })
    .raw({ depth: 'ushort' })
    .toBuffer();
  const values = new Uint16Array(resized.buffer, resized.byteOffset, resized.byteLength / 2);
  const tensor = new Float32Array(spec.width * spec.height);
  for (let i = 0; i < tensor.length; i++) tensor[i] = (values[i] as number) / 65535;
  const input: ModelInput = {
    tensor,
    dims: [1, 1, spec.height, spec.width],
    mirrored,
    scale,
    tissueFraction,
    acquisition: attrs.acquisition,
  };
  if (spec.breastMask)
    input.breast = breastOf(tensor, spec, { width, height }, spec.pectoralMask === true && attrs.viewPosition === 'MLO');
  return input;
}

/** Finds the breast (and an MLO view's pectoral muscle) in the input, then masks and normalises it in place. */
function breastOf(
  tensor: Float32Array,
  spec: InputSpec,
  valid: { width: number; height: number },
  mlo: boolean,
): ModelInput['breast'] {
  let region = findBreast(tensor, spec.width, spec.height, valid);
  const pectoral = mlo ? findPectoral(tensor, spec.width, region, spec.height) : undefined;
  if (pectoral) region = withoutPectoral(region, spec.width, spec.height, pectoral);
  normaliseBreast(tensor, region);
  const { mask, area, removedObjects } = region;
  return { mask, area, removedObjects, ...(region.pectoral ? { pectoral: region.pectoral } : {}) };
}

/**
 * The share of samples brighter than the background (the histogram's 2nd percentile) by at least
 * TISSUE_CONTRAST. A blank, uniform or unexposed image has none: it cannot show breast tissue.
 */
export function tissueShare(histogram: Uint32Array, total: number): number {
  if (total === 0) return 0;
  let cumulative = 0;
  let background = 0;
  for (let bin = 0; bin < histogram.length; bin++) {
    cumulative += histogram[bin] as number;
    if (cumulative >= total * 0.02) {
      background = bin;
      break;
    }
  }
  const from = background + Math.ceil(TISSUE_CONTRAST * 256);
  let above = 0;
  for (let bin = from; bin < histogram.length; bin++) above += histogram[bin] as number;
  return Math.round((above / total) * 1000) / 1000;
}
