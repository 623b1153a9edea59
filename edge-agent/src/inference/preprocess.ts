import sharp from 'sharp';
import { toPresentation } from '../imaging/display-transform.js';
import type { ImageAttributes } from '../imaging/image-attributes.js';
import type { StoredPixels } from '../imaging/pixel-data.js';

/** How a model wants its input (from the model manifest). */
export interface InputSpec {
  width: number;
  height: number;
}

export interface ModelInput {
  /** NCHW float32 in [0, 1], N = C = 1. */
  tensor: Float32Array;
  dims: [1, 1, number, number];
  /** The image was mirrored so the chest wall is on the left (model outputs must be mirrored back). */
  mirrored: boolean;
  /** Model-input pixels per source pixel, per axis (aspect ratio kept, letterboxed at the bottom/right). */
  scale: number;
}

/**
 * Stored pixels → presentation values (modality LUT, VOI, MONOCHROME1) → chest wall on the left →
 * resized with sharp (Lanczos) into a letterboxed width×height → float32 tensor. The same code
 * makes the training tensors, so training and serving see identical inputs.
 */
export async function preprocess(pixels: StoredPixels, attrs: ImageAttributes, spec: InputSpec): Promise<ModelInput> {
  const { rows, columns } = attrs;
  const presentation = toPresentation(pixels, attrs);
  // Chest wall side: the breast (brighter) half of the image.
  let left = 0;
  let right = 0;
  for (let y = 0; y < rows; y += 4) {
    for (let x = 0; x < columns; x += 4) {
      const v = presentation[y * columns + x] as number;
      if (x < columns / 2) left += v;
      else right += v;
    }
  }
  const mirrored = right > left;
  const grey16 = new Uint16Array(rows * columns);
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < columns; x++) {
      const source = presentation[y * columns + (mirrored ? columns - 1 - x : x)] as number;
      grey16[y * columns + x] = Math.round(Math.min(1, Math.max(0, source)) * 65535);
    }
  }
  const scale = Math.min(spec.width / columns, spec.height / rows);
  const width = Math.max(1, Math.round(columns * scale));
  const height = Math.max(1, Math.round(rows * scale));
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
  return { tensor, dims: [1, 1, spec.height, spec.width], mirrored, scale };
}
