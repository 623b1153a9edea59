// Example images with the model's marks, for looking at what it finds, misses and marks wrongly. Drawn
// from the images an evaluation read (in cross-validation: each by the model that never saw her) into a
// folder outside the repository: the datasets' licences do not allow copies of their images in it.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { modelInputFromFile, toInputPixels } from '@vigil/edge-agent';
import sharp from 'sharp';
import type { InferredImage } from './infer-cohort.js';
import { hitRadiusMm } from './metrics.js';

type Kind = 'found' | 'missed' | 'false-marks';

/** Which images make good examples: lesions found, lesions missed, normal images with false marks. */
export function pickExamples(
  images: readonly InferredImage[],
  threshold: number,
  perKind: number,
): { kind: Kind; image: InferredImage }[] {
  const marks = (i: InferredImage) => i.candidates.filter((c) => c.score >= threshold);
  const hit = (i: InferredImage, f: InferredImage['image']['findings'][number]) =>
    marks(i).some(
      (m) =>
        Math.hypot((m.x - f.x) * i.image.columns, (m.y - f.y) * i.image.rows) * i.image.pixelSpacingMm <=
        hitRadiusMm(f.diameterMm),
    );
  const found = images.filter((i) => i.image.findings.some((f) => hit(i, f)));
  const missed = images.filter((i) => i.image.findings.length > 0 && i.image.findings.every((f) => !hit(i, f)));
  const falseMarks = images
    .filter((i) => i.image.findings.length === 0 && marks(i).length > 0)
    .sort((a, b) => marks(b).length - marks(a).length);
  // Spread over the set (not the first few women only).
  const spread = (list: InferredImage[]) =>
    list.filter((_, k) => k % Math.max(1, Math.floor(list.length / perKind)) === 0).slice(0, perKind);
  return [
    ...spread(found).map((image) => ({ kind: 'found' as const, image })),
    ...spread(missed).map((image) => ({ kind: 'missed' as const, image })),
    ...falseMarks.slice(0, perKind).map((image) => ({ kind: 'false-marks' as const, image })),
  ];
}

/** A circle outline on an RGB buffer; dashed when `dash` > 0 (truth), so marks differ by more than colour. */
function circle(
  rgb: Buffer,
  width: number,
  height: number,
  cx: number,
  cy: number,
  r: number,
  colour: number[],
  dash: number,
): void {
  const steps = Math.max(60, Math.round(2 * Math.PI * r));
  for (let k = 0; k < steps; k++) {
    if (dash > 0 && Math.floor(k / dash) % 2 === 1) continue;
    const a = (2 * Math.PI * k) / steps;
    for (const dr of [-1, 0, 1]) {
      const x = Math.round(cx + (r + dr) * Math.cos(a));
      const y = Math.round(cy + (r + dr) * Math.sin(a));
      if (x < 0 || y < 0 || x >= width || y >= height) continue;
      rgb.set(colour, (y * width + x) * 3);
    }
  }
}

/**
 * Writes one PNG per example (the image as the model saw it, before its breast mask; truth dashed
 * green, marks solid red with a centre dot) and returns the files written.
 */
export async function drawExamples(
  cohortDir: string,
  examples: readonly { kind: Kind; image: InferredImage }[],
  threshold: number,
  outDir: string,
): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  const files: string[] = [];
  for (const [n, { kind, image }] of examples.entries()) {
    const width = 384;
    const height = 480;
    const { input } = await modelInputFromFile(join(cohortDir, image.image.file), { width, height, boxDownsample: true });
    const rgb = Buffer.alloc(width * height * 3);
    for (let p = 0; p < input.tensor.length; p++) rgb.fill(Math.round((input.tensor[p] as number) * 255), p * 3, p * 3 + 3);
    // Source-normalised x, y → model-input pixels (mirrored like the input), as training targets are drawn.
    const geometry = { ...image.image, scale: input.scale, mirrored: input.mirrored };
    const toInput = (x: number, y: number) => toInputPixels(geometry, { x, y });
    const mmToPx = input.scale / image.image.pixelSpacingMm;
    for (const f of image.image.findings) {
      const c = toInput(f.x, f.y);
      circle(rgb, width, height, c.x, c.y, Math.max(6, (f.diameterMm / 2) * mmToPx), [40, 220, 60], 4);
    }
    for (const m of image.candidates.filter((c) => c.score >= threshold)) {
      const c = toInput(m.x, m.y);
      circle(rgb, width, height, c.x, c.y, Math.max(5, (m.diameterMm / 2) * mmToPx), [235, 40, 40], 0);
      circle(rgb, width, height, c.x, c.y, 1, [235, 40, 40], 0);
    }
    const file = join(outDir, `${String(n).padStart(2, '0')}-${kind}-${image.patientId}.png`);
    await sharp(rgb, { raw: { width, height, channels: 3 } })
      .png()
      .toFile(file);
    files.push(file);
  }
  return files;
}
