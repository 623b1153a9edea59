// `npm run phantoms -- --out DIR --patients N --visits K --seed S [--matrix COLSxROWS]`
import { cliError, parseCli } from '../cli-args.js';
import { generatePhantoms } from './generate-phantoms.js';

const USAGE = `usage: npm run phantoms -- --out DIR [--patients N (10)] [--visits K (3)] [--seed S (1)] [--matrix COLSxROWS (3328x4096)]
Writes a synthetic longitudinal mammography cohort: DICOM MG files and truth.json.`;
const { values } = parseCli(USAGE, {
  options: {
    out: { type: 'string' },
    patients: { type: 'string', default: '10' },
    visits: { type: 'string', default: '3' },
    seed: { type: 'string', default: '1' },
    matrix: { type: 'string', default: '3328x4096' },
  },
});
const matrix = /^(\d+)x(\d+)$/.exec(values.matrix ?? '');
const numbers = [values.patients, values.visits, values.seed].map(Number);
if (!values.out || !matrix || numbers.some((n) => !Number.isInteger(n) || n < 0)) {
  cliError('--out is required; --patients, --visits and --seed are whole numbers; --matrix is COLSxROWS');
}
const [patients, visits, seed] = numbers as [number, number, number];
const started = Date.now();
const truth = await generatePhantoms({
  out: values.out,
  patients,
  visits,
  seed,
  columns: Number(matrix[1]),
  rows: Number(matrix[2]),
  onProgress: (done, total) => {
    const width = 30;
    const filled = Math.round((done / total) * width);
    const eta = ((Date.now() - started) / done) * (total - done);
    process.stderr.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total} images  ETA ${Math.round(eta / 1000)} s `,
    );
  },
});
const findings = truth.patients.reduce((n, p) => n + p.findings.length, 0);
process.stderr.write(
  `\nwrote ${patients * visits * 4} images for ${patients} patients (${findings} findings) to ${values.out} in ${Math.round((Date.now() - started) / 1000)} s\n`,
);
