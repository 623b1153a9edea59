// `npm run train [-- --out models/vigil-demo --patients 500 --epochs 24 --seed 101 --input 576x720 --crop 192]`
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainModel } from './train-model.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/vigil-demo' },
    patients: { type: 'string', default: '500' },
    epochs: { type: 'string', default: '24' },
    seed: { type: 'string', default: '101' },
    version: { type: 'string', default: '1.0.0' },
    /** Model input WIDTHxHEIGHT (the network is fully convolutional). 576×720 ≈ 0.4 mm per pixel. */
    input: { type: 'string', default: '576x720' },
    /** Training crop size in input pixels. */
    crop: { type: 'string', default: '192' },
    /** Keep the phantoms and tensors in this directory instead of a temporary one. */
    'work-dir': { type: 'string' },
  },
});
const input = /^(\d+)x(\d+)$/.exec(values.input ?? '');
if (!input || Number(input[1]) % 16 !== 0 || Number(input[2]) % 16 !== 0) {
  process.stderr.write('--input must be WIDTHxHEIGHT, both multiples of 16\n');
  process.exit(2);
}
const workDir = values['work-dir'] ?? join(tmpdir(), `vigil-train-${process.pid}`);
try {
  const manifest = await trainModel({
    out: values.out ?? 'models/vigil-demo',
    workDir,
    patients: Number(values.patients),
    epochs: Number(values.epochs),
    seed: Number(values.seed),
    version: values.version ?? '1.0.0',
    matrix: { rows: 1024, columns: 832 },
    spec: { width: Number(input[1]), height: Number(input[2]), stride: 2, boxDownsample: true },
    crop: Number(values.crop),
    log: (line) => process.stderr.write(`[train] ${line}\n`),
  });
  process.stdout.write(`${JSON.stringify({ model: manifest.name, version: manifest.version, sha256: manifest.sha256 })}\n`);
} finally {
  if (!values['work-dir']) rmSync(workDir, { recursive: true, force: true });
}
