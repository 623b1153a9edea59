// `npm run cross-validate -- --data DIR [--data DIR…] --out DIR [--folds 5] [--patients 100] [--epochs 24]
//   [--crop 256] [--lr 0.0005] [--geometric 0.5] [--init models/vigil-demo] [--seed 101] [--plots DIR] [--final]`
// k-fold cross-validation by woman: one model per fold, trained without that fold's women (by a hash of
// their id, as `npm run datasets` and `npm run train` fold them), then every woman's images read by the
// model that never saw her, pooled into one FROC per cohort with intervals by bootstrap over women.
// A fold whose model is already in OUT/fold-K (same recipe) is not trained again: a cut-off run resumes.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { cliError, parseCli } from '../cli-args.js';
import { foldOf } from '../datasets/folds.js';
import { pooled } from '../evaluate/cohort-spec.js';
import { drawExamples, pickExamples } from '../evaluate/draw-examples.js';
import { type FrocReport, froc, frocRuleFor, frocSummary, frocSvg } from '../evaluate/froc.js';
import { type InferredCohort, inferCohort } from '../evaluate/infer-cohort.js';
import { round3 } from '../evaluate/metrics.js';
import { readTruth } from '../phantoms/generate-phantoms.js';
import { adoptOperatingPoint } from './operating-point.js';
import { trainModel } from './train-model.js';

const USAGE = `usage: npm run cross-validate -- --data DIR [--data DIR…] --out DIR [--folds N (5)] [--patients P (100)]
                                 [--epochs E (24)] [--crop C (256)] [--lr R (0.0005)] [--geometric G (0.5)]
                                 [--init DIR (models/vigil-demo)] [--seed S (101)] [--plots DIR]
                                 [--final] [--version V (0.6.0)] [--examples DIR]
                                 [--real-repeat R (1)] [--val-fraction F (0.2)] [--anchor A (0)]
                                 [--preprocess breast|plain (breast)] [--own-operating-point]
                                 [--init-from-run DIR] [--phantoms-only] [--runs fold-K,…,all]
                                 [--whole-findings] [--large-share S (0)]
Trains one model per fold of women (each without that fold), reads every woman with the model that did
not train on her and prints the pooled FROC per cohort; writes OUT/cv.json (and the FROC SVG with --plots).
With --final, also trains the model to ship on every woman (OUT/all), with the same recipe; with one
cohort, that model takes the cross-validation's operating point (≤ 1 false mark per image) as its
finding threshold, and its score calibration from the out-of-fold marks when it has none of its own
(unless --own-operating-point). With --runs, trains only those runs (e.g. one fold through every stage of
a recipe before the next fold); the real cohorts are then read by every fold whose network of this recipe
is in OUT, and the report says how many folds that is.`;
const { values } = parseCli(USAGE, {
  options: {
    data: { type: 'string', multiple: true },
    out: { type: 'string' },
    folds: { type: 'string', default: '5' },
    patients: { type: 'string', default: '100' },
    epochs: { type: 'string', default: '24' },
    crop: { type: 'string', default: '256' },
    lr: { type: 'string', default: '0.0005' },
    geometric: { type: 'string', default: '0.5' },
    init: { type: 'string', default: 'models/vigil-demo' },
    seed: { type: 'string', default: '101' },
    plots: { type: 'string' },
    /** Draw example images with marks (found, missed, false marks) here: outside the repository. */
    examples: { type: 'string' },
    /** Also train the candidate model on every woman, into OUT/all (the one to ship). */
    final: { type: 'boolean', default: false },
    version: { type: 'string', default: '0.6.0' },
    /** Each real image seen this many times per epoch (phantoms once). */
    'real-repeat': { type: 'string', default: '1' },
    /** Share of the training women held out of each run for its threshold and calibration. */
    'val-fraction': { type: 'string', default: '0.2' },
    /** Pull the weights toward --init's (L2-SP), so the phantoms it reads are not forgotten. */
    anchor: { type: 'string', default: '0' },
    /** breast: the breast, label and pectoral steps (film's); plain: 0.5.0's steps (digital's), as `npm run train`. */
    preprocess: { type: 'string', default: 'breast' },
    /**
     * With --final and one cohort: the model to ship keeps the operating point of its own held-out split
     * (phantoms and real women) instead of the cross-validation's. For a network that reads phantoms too,
     * where an operating point at 1 false mark per real image would flood the phantoms with marks.
     */
    'own-operating-point': { type: 'boolean', default: false },
    /**
     * A second stage of a cross-validated recipe: each fold starts from DIR/fold-K and the final model
     * from DIR/all (an earlier cross-validate's OUT), so no fold's network has seen its women.
     */
    'init-from-run': { type: 'string' },
    /**
     * Train on the phantoms alone (a last stage that steadies what the network learned of them, e.g.
     * its lesion sizes); the real cohorts are still read by each fold's network, none of which saw its
     * women (with --init-from-run, each fold starts from its own earlier network).
     */
    'phantoms-only': { type: 'boolean', default: false },
    /**
     * Train only these runs (fold-K, all), comma-separated: a long recipe of several stages can then go
     * fold by fold, each fold's figures ready before the next fold starts. Not part of the recipe.
     */
    runs: { type: 'string' },
    /** A crop drawn at a finding holds all of it where it fits (large masses seen whole). */
    'whole-findings': { type: 'boolean', default: false },
    /** Share of finding crops drawn at a large finding (radius ≥ 1/8 of the crop) where the image has one. */
    'large-share': { type: 'string', default: '0' },
  },
});
const data = values.data ?? [];
if (data.length === 0 || !values.out) cliError('--data (at least one converted cohort) and --out are required');
const folds = Number(values.folds);
if (!Number.isInteger(folds) || folds < 2) cliError('--folds must be an integer ≥ 2');
const out = values.out as string;
if (values.preprocess !== 'breast' && values.preprocess !== 'plain')
  cliError(`--preprocess ${values.preprocess}: breast or plain`);
const anchor = Number(values.anchor);
if (!(anchor >= 0)) cliError('--anchor must be a number ≥ 0');
const largeShare = Number(values['large-share']);
if (!(largeShare >= 0 && largeShare <= 1)) cliError(`--large-share ${values['large-share']}: a share from 0 to 1`);
const allRuns = [...Array.from({ length: folds }, (_, k) => `fold-${k}`), ...(values.final ? ['all'] : [])];
const runs = values.runs ? values.runs.split(',').map((name) => name.trim()) : allRuns;
for (const name of runs)
  if (!allRuns.includes(name))
    cliError(`--runs ${values.runs}: ${name} is not one of ${allRuns.join(', ')}${values.final ? '' : ' (all needs --final)'}`);
const initFromRun = values['init-from-run'];
if (initFromRun)
  for (const name of runs)
    if (!existsSync(join(initFromRun, name, 'manifest.json')))
      cliError(`--init-from-run ${initFromRun}: no model in ${name}/ to start ${name} from`);
const repo = resolve(import.meta.dirname, '../..');
for (const [option, dir] of [
  ['--out', out],
  ['--examples', values.examples],
] as const)
  if (dir && `${resolve(dir)}/`.startsWith(`${repo}/`))
    cliError(`${option} ${dir} is inside the repository: images of the datasets must stay outside it (their licences)`);
const recipe = {
  folds,
  patients: Number(values.patients),
  epochs: Number(values.epochs),
  crop: Number(values.crop),
  lr: Number(values.lr),
  geometric: Number(values.geometric),
  init: values.init as string,
  seed: Number(values.seed),
  data,
  // Recorded only when not the default, so models trained before these options still match.
  ...(values['real-repeat'] !== '1' ? { realRepeat: Number(values['real-repeat']) } : {}),
  ...(values['val-fraction'] !== '0.2' ? { valFraction: Number(values['val-fraction']) } : {}),
  ...(anchor > 0 ? { anchor } : {}),
  ...(values.preprocess === 'plain' ? { preprocess: 'plain' } : {}),
  ...(initFromRun ? { initFromRun } : {}),
  ...(values['phantoms-only'] ? { phantomsOnly: true } : {}),
  ...(values['whole-findings'] ? { wholeFindings: true } : {}),
  ...(largeShare > 0 ? { largeShare } : {}),
};
const log = (line: string) => process.stderr.write(`[cv] ${line}\n`);
mkdirSync(out, { recursive: true });
const phantomWork = join(out, 'work-phantoms');
/** What a run's manifest records of how it was trained: the recipe and its fold. */
const tagOf = (fold: number | 'all') => ({ ...recipe, fold });
/** Whether OUT/NAME holds a model trained with this recipe (so a rerun skips it and the report may read with it). */
function trainedAlready(name: string, fold: number | 'all'): boolean {
  const manifestFile = join(out, name, 'manifest.json');
  if (!existsSync(manifestFile)) return false;
  const done = JSON.parse(readFileSync(manifestFile, 'utf8')) as { training?: { crossValidation?: unknown } };
  return JSON.stringify(done.training?.crossValidation) === JSON.stringify(tagOf(fold));
}
/** Trains one model into OUT/NAME without the women `exclude` names, unless it is there already with this recipe. */
async function trainRun(name: string, fold: number | 'all', version: string): Promise<void> {
  const dir = join(out, name);
  const manifestFile = join(dir, 'manifest.json');
  if (trainedAlready(name, fold)) {
    log(`${name}: trained already (${dir})`);
    return;
  }
  log(fold === 'all' ? `${name}: training on every woman` : `fold ${fold} of ${folds}: training without its women`);
  const workDir = join(out, `work-${name}`);
  mkdirSync(workDir, { recursive: true });
  // The phantoms are the same for every run: rendered once, then reused.
  if (existsSync(join(phantomWork, 'truth.json')) && !existsSync(join(workDir, 'phantoms')))
    symlinkSync(phantomWork, join(workDir, 'phantoms'));
  await trainModel({
    out: dir,
    workDir,
    patients: recipe.patients,
    seed: recipe.seed,
    epochs: recipe.epochs,
    version,
    matrix: { rows: 1024, columns: 832 },
    spec: {
      width: 576,
      height: 720,
      stride: 2,
      boxDownsample: true,
      ...(recipe.preprocess === 'plain' ? {} : { breastMask: true, pectoralMask: true }),
    },
    crop: recipe.crop,
    lr: recipe.lr,
    geometric: recipe.geometric,
    init: recipe.initFromRun ? join(recipe.initFromRun, name) : recipe.init,
    ...(recipe.realRepeat ? { realRepeat: recipe.realRepeat } : {}),
    ...(recipe.anchor ? { anchor: recipe.anchor } : {}),
    ...(recipe.valFraction !== undefined ? { valFraction: recipe.valFraction } : {}),
    data: recipe.phantomsOnly ? [] : data,
    ...(recipe.wholeFindings ? { wholeFindings: true } : {}),
    ...(recipe.largeShare ? { largeShare: recipe.largeShare } : {}),
    ...(fold === 'all' ? {} : { exclude: (woman: string) => foldOf(woman, folds) === fold }),
    tensorCache: join(out, 'tensor-cache'),
    log,
  });
  // The manifest as trainModel left it on disk (with the calibration it fitted after returning its
  // first version), tagged with the recipe so a rerun can skip it.
  const manifest = JSON.parse(readFileSync(manifestFile, 'utf8')) as { training: Record<string, unknown> };
  manifest.training.crossValidation = tagOf(fold);
  writeFileSync(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
  if (!existsSync(join(phantomWork, 'truth.json')) && existsSync(join(workDir, 'phantoms', 'truth.json')))
    renameSync(join(workDir, 'phantoms'), phantomWork);
  rmSync(join(workDir, 'tensors'), { recursive: true, force: true });
}

for (let fold = 0; fold < folds; fold++)
  if (runs.includes(`fold-${fold}`)) await trainRun(`fold-${fold}`, fold, `${values.version}-cv.${fold}`);
if (values.final && runs.includes('all')) await trainRun('all', 'all', values.version as string);
// The folds whose network of this recipe is here: all of them, unless --runs left some for later.
const foldsRead = Array.from({ length: folds }, (_, k) => k).filter((fold) => trainedAlready(`fold-${fold}`, fold));
if (foldsRead.length < folds)
  log(
    `reading the real cohorts with ${foldsRead.length} of ${folds} folds (${foldsRead.join(', ') || 'none'}): the others are not trained yet`,
  );

const reports: { label: string; report: FrocReport }[] = [];
const summary: Record<string, unknown>[] = [];
for (const cohortDir of data) {
  const { truth } = readTruth(cohortDir);
  const parts: InferredCohort[] = [];
  for (const fold of foldsRead) {
    const women = new Set(truth.patients.map((p) => p.patientId).filter((w) => foldOf(w, folds) === fold));
    if (women.size === 0) continue;
    parts.push(await inferCohort(cohortDir, join(out, `fold-${fold}`), { patients: women }));
  }
  if (parts.length === 0) continue;
  const cohort = pooled(parts);
  const report = froc(cohort, { rule: frocRuleFor(cohort) });
  // With one cohort, the model to ship takes the operating point measured on women it was not tuned on.
  if (values.final && data.length === 1 && !values['own-operating-point'] && foldsRead.length === folds)
    adoptOperatingPoint(join(out, 'all'), cohort, parts, report, log);
  reports.push({ label: basename(cohortDir), report });
  process.stdout.write(
    `\n${cohortDir} — ${folds}-fold cross-validation by woman${foldsRead.length < folds ? ` (folds ${foldsRead.join(', ')} only)` : ''}, ${cohort.images.length} images\n  ${frocSummary(report)}\n`,
  );
  // Each fold on its own too (one model's scores, no pooling across models): mean and range.
  const perFold = parts.map((part) => froc(part, { rule: frocRuleFor(cohort), replicates: 50 }));
  const spread = (values: number[]) =>
    values.length === 0
      ? null
      : { mean: round3(values.reduce((a, b) => a + b, 0) / values.length), min: Math.min(...values), max: Math.max(...values) };
  const foldFigures = {
    sensitivity: spread(perFold.map((r) => r.at.sensitivity)),
    imageAuc: spread(perFold.flatMap((r) => (r.imageAuc ? [r.imageAuc.value] : []))),
  };
  process.stdout.write(
    `  per fold: found ${perFold.map((r) => r.at.sensitivity).join(', ')} (mean ${foldFigures.sensitivity?.mean})` +
      (foldFigures.imageAuc
        ? `; image AUC ${perFold.map((r) => r.imageAuc?.value ?? '–').join(', ')} (mean ${foldFigures.imageAuc.mean})`
        : '') +
      '\n',
  );
  for (const [type, c] of Object.entries(report.byClass).sort())
    process.stdout.write(`    ${type}: ${c.found}/${c.lesions} = ${c.sensitivity} [${c.interval.low}, ${c.interval.high}]\n`);
  if (values.examples) {
    const files = await drawExamples(
      cohortDir,
      pickExamples(cohort.images, report.at.threshold, 3),
      report.at.threshold,
      join(values.examples, basename(cohortDir)),
    );
    log(`wrote ${files.length} examples under ${join(values.examples, basename(cohortDir))}`);
  }
  summary.push({
    cohort: cohortDir,
    images: cohort.images.length,
    froc: { ...report, curve: undefined },
    perFold: foldFigures,
    curve: report.curve,
  });
}
writeFileSync(join(out, 'cv.json'), `${JSON.stringify({ recipe, foldsRead, results: summary }, null, 2)}\n`);
if (values.plots) {
  mkdirSync(values.plots, { recursive: true });
  const file = join(values.plots, 'froc-cv.svg');
  writeFileSync(file, frocSvg(reports, `Lesions found vs false marks, ${folds}-fold cross-validation by woman`));
  log(`wrote ${file}`);
}
