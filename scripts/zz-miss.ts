import { join } from 'node:path';
import { inputSpecOf, modelInputFromFile, OnnxModel } from '@vigil/edge-agent';
import { readTruth } from './phantoms/generate-phantoms.js';

const [dir = '', modelDir = ''] = process.argv.slice(2);
const model = await OnnxModel.load(modelDir);
const spec = inputSpecOf(model.manifest);
const truth = readTruth(dir);
const density = new Map(truth.truth.patients.map((p) => [p.patientId, p.density]));
for (const image of truth.images) {
  if (image.findings.length === 0) continue;
  const { input } = await modelInputFromFile(join(dir, image.file), spec);
  const map = await model.run(input.tensor);
  for (const f of image.findings) {
    if (f.diameterMm < 5) continue;
    const cx = ((input.mirrored ? 1 - f.x : f.x) * image.columns * input.scale) / 2;
    const cy = (f.y * image.rows * input.scale) / 2;
    const r = ((f.diameterMm / 2 / image.pixelSpacingMm) * input.scale) / 2 + 2;
    let m = 0;
    for (let y = Math.floor(cy - r); y <= cy + r; y++)
      for (let x = Math.floor(cx - r); x <= cx + r; x++) {
        if (Math.hypot(x - cx, y - cy) <= r) m = Math.max(m, map.data[y * map.width + x] ?? 0);
      }
    if (m < 0.9) console.log(image.file, f.type, f.diameterMm, 'density', density.get(image.patientId), 'maxP', m.toFixed(3));
  }
}
