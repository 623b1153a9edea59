// `npm run train [-- --out models/vigil-demo --patients 160 --epochs 15 --seed 101 --input 256x320]`
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { trainModel } from './train-model.js';

const { values } = parseArgs({
  options: {
    out: { type: 'string', default: 'models/vigil-demo' },
    patients: { type: 'string', default: '160' },
    epochs: { type: 'string', default: '15' },
    seed: { type: 'string', default: '101' },
    version: { type: 'string', default: '1.0.0' },
    /** Model input WIDTHxHEIGHT (the network is fully convolutional). */
    input: { type: 'string', default: '256x320' },
  },
});
const workDir = join(tmpdir(), `vigil-train-${process.pid}`);
try {
  const manifest = await trainModel({
    out: values.out ?? 'models/vigil-demo',
    workDir,
    patients: Number(values.patients),
    epochs: Number(values.epochs),
    seed: Number(values.seed),
    version: values.version ?? '1.0.0',
    matrix: { rows: 1024, columns: 832 },
    spec: { width: Number(values.input?.split('x')[0] ?? 256), height: Number(values.input?.split('x')[1] ?? 320), stride: 4 },
    log: (line) => process.stderr.write(`[train] ${line}\n`),
  });
  process.stdout.write(`${JSON.stringify({ model: manifest.name, version: manifest.version, sha256: manifest.sha256 })}\n`);
} finally {
  rmSync(workDir, { recursive: true, force: true });
}
