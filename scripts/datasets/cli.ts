// `npm run datasets -- convert --from DIR --out DIR [--dataset NAME] [--women ID,ID…]` | `list`
// A public dataset (../shared/data/…) → DICOM MG files + truth.json, the cohort format training,
// `npm run evaluate`, the demo and the edge's intake take. `list` names the adapters and what they
// recognise under a folder.
import { resolve } from 'node:path';
import { isVigilError } from '@vigil/shared';
import { cliError, parseCli } from '../cli-args.js';
import { adapterFor, DATASET_ADAPTERS } from './adapters.js';
import { foldOf, foldOption } from './folds.js';
import { convertDataset } from './write-cohort.js';

const USAGE = `usage: npm run datasets -- convert --from DIR --out DIR [--dataset ${DATASET_ADAPTERS.map((a) => a.name).join('|')}] [--women ID,ID…]
         [--folds N --fold K [--rest]]   only the women of fold K of N (by a hash of their id), or with --rest all others
       npm run datasets -- list [DIR]
Converts a public mammography dataset into DICOM MG files and truth.json (the phantoms' cohort format).
The output folder must lie outside the repository: the datasets' licences do not allow copies in it.
`;

const { values, positionals } = parseCli(USAGE, {
  allowPositionals: true,
  options: {
    from: { type: 'string' },
    out: { type: 'string' },
    dataset: { type: 'string' },
    women: { type: 'string' },
    folds: { type: 'string' },
    fold: { type: 'string' },
    rest: { type: 'boolean' },
  },
});
function fail(code: string, message: string): never {
  return cliError(message, code);
}
const command = positionals[0];
if (!command) fail('VIGIL_CONFIG_INVALID', `name a command (--help lists them)`);
if (command === 'list') {
  for (const a of DATASET_ADAPTERS) {
    const dir = positionals[1];
    process.stdout.write(
      `${a.name}${dir ? (a.detect(dir) ? `: recognises ${dir}` : '') : ''}\n  ${a.provenance.citation}\n  ${a.provenance.licence}\n`,
    );
  }
  process.exit(0);
}
if (command !== 'convert') fail('VIGIL_CONFIG_INVALID', `unknown command ${command}\n${USAGE}`);
const from = values.from as string | undefined;
const out = values.out as string | undefined;
if (!from || !out) fail('VIGIL_CONFIG_INVALID', `--from and --out are required\n${USAGE}`);
const repo = resolve(new URL('../..', import.meta.url).pathname);
if (`${resolve(out)}/`.startsWith(`${repo}/`)) {
  fail('VIGIL_CONFIG_INVALID', `--out ${out} is inside the repository: converted images must stay outside it (dataset licences)`);
}
const adapter = adapterFor(from, values.dataset as string | undefined);
if (!adapter)
  fail('VIGIL_CONFIG_INVALID', `no dataset adapter ${values.dataset ? `named ${values.dataset}` : `recognises ${from}`}`);
let fold: ReturnType<typeof foldOption>;
try {
  fold = foldOption(values.folds as string | undefined, values.fold as string | undefined);
} catch (error) {
  fail('VIGIL_CONFIG_INVALID', (error as Error).message);
}
let onlyWomen = values.women ? new Set(String(values.women).split(',').filter(Boolean)) : undefined;
if (fold) {
  const chosen = (await adapter.women(from)).filter((w) => (foldOf(w, fold.folds) === fold.fold) !== Boolean(values.rest));
  onlyWomen = new Set(onlyWomen ? chosen.filter((w) => onlyWomen?.has(w)) : chosen);
}
const started = Date.now();
try {
  const truth = await convertDataset({
    adapter,
    from,
    out,
    ...(onlyWomen ? { onlyWomen } : {}),
    onProgress: (women, images) => process.stderr.write(`\r${adapter.name}: ${women} women, ${images} images`),
  });
  const images = truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images));
  const lesions = images.reduce((n, i) => n + i.findings.length, 0);
  process.stderr.write(
    `\nwrote ${images.length} images of ${truth.patients.length} women (${lesions} located lesions, ${images.filter((i) => i.findings.length === 0 && !i.unlocated?.length).length} normal images) to ${out} in ${Math.round((Date.now() - started) / 1000)} s\n`,
  );
} catch (error) {
  if (isVigilError(error)) fail(error.code, error.message);
  throw error;
}
