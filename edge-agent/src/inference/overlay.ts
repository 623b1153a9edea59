import type { Finding } from '@vigil/shared';
import sharp from 'sharp';
import type { ModelInput } from './preprocess.js';

/**
 * A low-resolution, de-identified picture of what the model saw, with each finding outlined: the
 * model input itself (presentation values, a few hundred pixels wide), turned back to the image's
 * own orientation and cropped to the image (no letterbox). No DICOM header goes into it.
 */
export async function renderOverlay(
  input: ModelInput,
  findings: readonly Finding[],
  image: { rows: number; columns: number; pixelSpacingMm: number },
): Promise<Buffer> {
  const [, , height, width] = input.dims;
  const w = Math.max(1, Math.min(width, Math.round(image.columns * input.scale)));
  const h = Math.max(1, Math.min(height, Math.round(image.rows * input.scale)));
  const grey = Buffer.alloc(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      // The model sees the chest wall on the left; the overlay shows the image as acquired.
      const sx = input.mirrored ? w - 1 - x : x;
      grey[y * w + x] = Math.round(255 * Math.min(1, Math.max(0, input.tensor[y * width + sx] as number)));
    }
  }
  const circles = findings
    .map((f) => {
      const r = Math.max(3, (f.diameterMm / 2 / image.pixelSpacingMm) * input.scale + 2);
      const colour = f.score >= 0.8 ? '#ff3b30' : '#ffcc00';
      return `<circle cx="${(f.x * w).toFixed(1)}" cy="${(f.y * h).toFixed(1)}" r="${r.toFixed(1)}" fill="none" stroke="${colour}" stroke-width="1.5"/>`;
    })
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}">${circles}</svg>`);
  return sharp(grey, { raw: { width: w, height: h, channels: 1 } })
    .toColourspace('srgb')
    .composite([{ input: svg, top: 0, left: 0 }])
    .png({ compressionLevel: 9 })
    .toBuffer();
}
