import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { calibrateFindingThreshold } from './evaluate/evaluate.js';

const [modelDir = '', phantoms = ''] = process.argv.slice(2);
const manifest = JSON.parse(readFileSync(join(modelDir, 'manifest.json'), 'utf8'));
const point = await calibrateFindingThreshold(phantoms, modelDir, new Set(manifest.training.heldOutPatients), 0.25);
manifest.thresholds.finding = Math.min(0.99, Math.max(0.05, point.threshold));
manifest.training.operatingPoint = { maxFalsePositivesPerImage: 0.25, ...point };
writeFileSync(join(modelDir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
console.log(JSON.stringify(point));
