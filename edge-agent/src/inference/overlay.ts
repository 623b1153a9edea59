import type { Finding } from '@vigil/shared';
import sharp from 'sharp';
import type { ModelInput } from './preprocess.js';

/** The overlay's largest size in pixels. */
export const OVERLAY_MAX = { width: 256, height: 320 };

/**
 * A low-resolution, de-identified picture of what the model saw, with each finding outlined: the
 * model input itself (presentation values), turned back to the image's own orientation, cropped to
 * the image (no letterbox) and scaled to fit OVERLAY_MAX. No DICOM header goes into it.
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
  // Low resolution whatever the model's input size: at most OVERLAY_MAX (a glance, and a small payload).
  const fit = Math.min(1, OVERLAY_MAX.width / w, OVERLAY_MAX.height / h);
  const ow = Math.max(1, Math.round(w * fit));
  const oh = Math.max(1, Math.round(h * fit));
  const circles = findings
    .map((f) => {
      const r = Math.max(3, (f.diameterMm / 2 / image.pixelSpacingMm) * input.scale * fit + 2);
      const colour = f.score >= 0.8 ? '#ff3b30' : '#ffcc00';
      return `<circle cx="${(f.x * ow).toFixed(1)}" cy="${(f.y * oh).toFixed(1)}" r="${r.toFixed(1)}" fill="none" stroke="${colour}" stroke-width="1.5"/>`;
    })
    .join('');
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" width="${ow}" height="${oh}">${circles}</svg>`);
  // sharp composites after resizing, so the outlines are drawn at the overlay's own size.
  return sharp(grey, { raw: { width: w, height: h, channels: 1 } })
    .resize(ow, oh, { kernel: 'lanczos3', fit: 'fill' })
    .toColourspace('srgb')
    .composite([{ input: svg, top: 0, left: 0 }])
    .png({ compressionLevel: 9 })
    .toBuffer();
}
