// `npm run train [-- --out models/vigil-demo --patients 500 --epochs 24 --seed 101 --input 576x720 --crop 192
//   --init models/vigil-demo --lr 0.0005]`: phantoms rendered at one of four planned visits (lesions at every
//   size a follow-up reaches), from scratch or from a model's weights (--init)
//   [--data DIR …] [--folds N --fold K]: also (with --patients 0, only) on converted real datasets
//   (`npm run datasets`), leaving out the women of fold K of N (by a hash of their id)
// `npm run train -- --from SET [--from SET…] --base models/vigil-demo --version 1.1.0 --out DIR [--epochs 2]`:
// fine-tune on training sets edges assembled from clinicians' verdicts (`vigil-edge training-set`).
// `npm run train -- --digital DIR --film DIR --version V --out DIR`: one package with a branch per
// acquisition (scanned film, digital), the edge choosing by the image's Detector/Conversion Type.
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cliError, parseCli } from '../cli-args.js';
import { foldOf, foldOption } from '../datasets/folds.js';
import { composeByAcquisition } from './compose-branches.js';
import { fineTuneModel, trainModel } from './train-model.js';

const USAGE = `usage: npm run train -- [--out DIR] [--patients N] [--epochs E] [--seed S] [--version V] [--input WxH] [--crop C]
                        [--init DIR] [--lr R] [--work-dir DIR] [--data DIR …] [--folds N --fold K]
                        [--preprocess plain|breast] [--geometric G]
       npm run train -- --from SET [--from SET…] --base DIR --version V --out DIR [--epochs E] [--lr R]
       npm run train -- --digital DIR --film DIR [--film-score S] --version V --out DIR
Trains the lesion model on phantoms (and converted real cohorts with --data), or fine-tunes it on edges'
training sets (--from), or composes a digital and a film model into one (--digital, --film); prints the new package's name, version and SHA-256.`;
const { values } = parseCli(USAGE, {
  options: {
    out: { type: 'string', default: 'models/vigil-demo' },
    patients: { type: 'string', default: '500' },
    /** Default 24 when training from phantoms, 2 when fine-tuning. */
    epochs: { type: 'string' },
    seed: { type: 'string', default: '101' },
    version: { type: 'string', default: '1.0.0' },
    /** Model input WIDTHxHEIGHT (the network is fully convolutional). 576×720 ≈ 0.4 mm per pixel. */
    input: { type: 'string', default: '576x720' },
    /** Training crop size in input pixels. */
    crop: { type: 'string', default: '192' },
    /** Keep the phantoms and tensors in this directory instead of a temporary one. */
    'work-dir': { type: 'string' },
    /** Fine-tune on edge training sets instead of training on phantoms. */
    from: { type: 'string', multiple: true },
    base: { type: 'string', default: 'models/vigil-demo' },
    /** Default 0.0003 when fine-tuning; train.py's own when training from phantoms. */
    lr: { type: 'string' },
    /** Training from phantoms: start from this model's weights instead of afresh. */
    init: { type: 'string' },
    /** Cohorts to train on too (converted real datasets: `npm run datasets`); with --patients 0, only these. */
    data: { type: 'string', multiple: true },
    /** Hold fold K of N out of the --data cohorts (women by a hash of their id, as `npm run datasets` folds them). */
    folds: { type: 'string' },
    fold: { type: 'string' },
    /** `plain` (default, the shipped 0.5.0's steps) or `breast`: background, labels, markers and an MLO view's pectoral muscle masked, the breast normalised (the cross-validated recipe). */
    preprocess: { type: 'string', default: 'plain' },
    /** Random scale (±25 %·G) and rotation (±10°·G) of training crops; 0 = none. */
    geometric: { type: 'string', default: '0' },
    /** Compose: the model for digital images (and phantoms) … */
    digital: { type: 'string' },
    /** … and the model for scanned film. */
    film: { type: 'string' },
    /** … whose findings are reported from this calibrated score up (an operating point from cross-validation). */
    'film-score': { type: 'string' },
  },
});
const print = (manifest: { name: string; version: string; sha256: string }) =>
  process.stdout.write(`${JSON.stringify({ model: manifest.name, version: manifest.version, sha256: manifest.sha256 })}\n`);
if (values.digital || values.film) {
  if (!values.digital || !values.film || !process.argv.includes('--version') || !process.argv.includes('--out'))
    cliError('composing needs --digital DIR, --film DIR, --version V and --out DIR');
  print(
    await composeByAcquisition({
      digital: values.digital,
      film: values.film,
      out: values.out as string,
      version: values.version as string,
      ...(values['film-score'] ? { filmScore: Number(values['film-score']) } : {}),
      log: (line) => process.stderr.write(`[train] ${line}\n`),
    }),
  );
  process.exit(0);
}
if (values.from?.length) {
  if (!process.argv.includes('--version'))
    cliError('fine-tuning needs --version: the new package version (above the base model)');
  const workDir = values['work-dir'] ?? join(tmpdir(), `vigil-finetune-${process.pid}`);
  try {
    const manifest = await fineTuneModel({
      base: values.base ?? 'models/vigil-demo',
      from: values.from,
      out: values.out ?? 'models/vigil-demo',
      workDir,
      epochs: Number(values.epochs ?? '2'),
      seed: Number(values.seed),
      version: values.version ?? '1.0.0',
      lr: Number(values.lr ?? '0.0003'),
      log: (line) => process.stderr.write(`[train] ${line}\n`),
    });
    process.stdout.write(`${JSON.stringify({ model: manifest.name, version: manifest.version, sha256: manifest.sha256 })}\n`);
  } finally {
    if (!values['work-dir']) rmSync(workDir, { recursive: true, force: true });
  }
  process.exit(0);
}
const input = /^(\d+)x(\d+)$/.exec(values.input ?? '');
if (values.preprocess !== 'breast' && values.preprocess !== 'plain') cliError('--preprocess must be breast or plain');
const breast = values.preprocess === 'breast';
if (!input || Number(input[1]) % 16 !== 0 || Number(input[2]) % 16 !== 0)
  cliError('--input must be WIDTHxHEIGHT, both multiples of 16');
let heldOut: ReturnType<typeof foldOption>;
try {
  heldOut = foldOption(values.folds, values.fold);
} catch (error) {
  cliError((error as Error).message);
}
const workDir = values['work-dir'] ?? join(tmpdir(), `vigil-train-${process.pid}`);
try {
  const manifest = await trainModel({
    out: values.out ?? 'models/vigil-demo',
    workDir,
    patients: Number(values.patients),
    epochs: Number(values.epochs ?? '24'),
    seed: Number(values.seed),
    version: values.version ?? '1.0.0',
    matrix: { rows: 1024, columns: 832 },
    spec: {
      width: Number(input[1]),
      height: Number(input[2]),
      stride: 2,
      boxDownsample: true,
      breastMask: breast,
      pectoralMask: breast,
    },
    crop: Number(values.crop),
    ...(values.init ? { init: values.init } : {}),
    ...(values.lr ? { lr: Number(values.lr) } : {}),
    geometric: Number(values.geometric),
    ...(values.data?.length ? { data: values.data } : {}),
    ...(heldOut ? { exclude: (w: string) => foldOf(w, heldOut.folds) === heldOut.fold } : {}),
    log: (line) => process.stderr.write(`[train] ${line}\n`),
  });
  process.stdout.write(`${JSON.stringify({ model: manifest.name, version: manifest.version, sha256: manifest.sha256 })}\n`);
} finally {
  if (!values['work-dir']) rmSync(workDir, { recursive: true, force: true });
}
