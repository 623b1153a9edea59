import { join } from 'node:path';
import { inputSpecOf, modelInputFromFile, OnnxModel } from '@vigil/edge-agent';
import sharp from 'sharp';
import { readTruth } from './phantoms/generate-phantoms.js';

const [dir = '', modelDir = '', out = '/tmp/vis', which = '0'] = process.argv.slice(2);
const model = await OnnxModel.load(modelDir);
const spec = inputSpecOf(model.manifest);
const { images } = readTruth(dir);
for (const n of which.split(',').map(Number)) {
  const image = images[n];
  if (!image) continue;
  const { input } = await modelInputFromFile(join(dir, image.file), spec);
  const map = await model.run(input.tensor);
  const W = spec.width,
    H = spec.height;
  const rgb = Buffer.alloc(W * 2 * H * 3);
  for (let y = 0; y < H; y++)
    for (let x = 0; x < W; x++) {
      const v = Math.round((input.tensor[y * W + x] ?? 0) * 255);
      const o = (y * W * 2 + x) * 3;
      rgb[o] = v;
      rgb[o + 1] = v;
      rgb[o + 2] = v;
      const p = map.data[Math.floor(y / 2) * map.width + Math.floor(x / 2)] ?? 0;
      const o2 = (y * W * 2 + W + x) * 3;
      rgb[o2] = Math.round(p * 255);
      rgb[o2 + 1] = Math.round(v * 0.5);
      rgb[o2 + 2] = Math.round(v * 0.5);
    }
  for (const f of image.findings) {
    const cx = Math.round((input.mirrored ? 1 - f.x : f.x) * image.columns * input.scale);
    const cy = Math.round(f.y * image.rows * input.scale);
    const r = Math.round((f.diameterMm / 2 / image.pixelSpacingMm) * input.scale) + 6;
    for (let a = 0; a < 360; a += 2) {
      const px = Math.round(cx + r * Math.cos((a * Math.PI) / 180)),
        py = Math.round(cy + r * Math.sin((a * Math.PI) / 180));
      if (px >= 0 && px < W && py >= 0 && py < H) {
        const o = (py * W * 2 + px) * 3;
        rgb[o] = 0;
        rgb[o + 1] = 255;
        rgb[o + 2] = 0;
      }
    }
  }
  await sharp(rgb, { raw: { width: W * 2, height: H, channels: 3 } })
    .png()
    .toFile(`${out}/img-${n}.png`);
  console.log(n, image.file, JSON.stringify(image.findings.map((f) => [f.type, f.diameterMm])));
}
