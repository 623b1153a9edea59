// `npm run evaluate -- PHANTOM_DIR [PHANTOM_DIR…] [--model models/vigil-demo] [--alerts] [--json FILE] [--plots DIR]`
// Runs the model once over each cohort (cached per model), then prints each goal with its figure and
// 95 % interval: the image-level bar, and with --alerts the follow-up alert goals (needs cohorts with
// several visits per patient). --json writes every figure and judged alert; --plots writes the
// calibration curve (SVG).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cliError, parseCli } from '../cli-args.js';
import { evaluateAlerts } from './alert-evaluation.js';
import { calibrationCurve, calibrationSvg } from './calibration.js';
import { cohortSpec, labelOf, pooled } from './cohort-spec.js';
import { evaluateImages } from './evaluate.js';
import { type FrocReport, froc, frocRuleFor, frocSummary, frocSvg } from './froc.js';
import { alertGoals, formatGoals, imageGoals } from './goals.js';
import { type InferredCohort, inferCohort } from './infer-cohort.js';

const USAGE = `usage: npm run evaluate -- COHORT [COHORT…] [--model DIR (models/vigil-demo)] [--alerts] [--json FILE] [--plots DIR]
COHORT is a folder (phantoms, or a dataset converted by npm run datasets) run with --model, or
LABEL=DIR@MODEL,DIR@MODEL,… : cross-validation folds, each run with the model that did not train on it,
pooled into one evaluation named LABEL.
Runs the model over each cohort and prints every goal
with its 95 % interval, the lesion FROC with its bootstrap interval and per-class sensitivity; --alerts adds
the follow-up alert goals; --json writes every figure; --plots writes the calibration curve and the FROC (SVG).`;
const { values, positionals } = parseCli(USAGE, {
  allowPositionals: true,
  options: {
    model: { type: 'string', default: 'models/vigil-demo' },
    alerts: { type: 'boolean', default: false },
    json: { type: 'string' },
    plots: { type: 'string' },
  },
});
if (positionals.length === 0) cliError('name at least one cohort folder (--help lists the options)');
const modelDir = values.model ?? 'models/vigil-demo';
const report: Record<string, unknown>[] = [];
const curves: { label: string; curve: ReturnType<typeof calibrationCurve> }[] = [];
const frocs: { label: string; report: FrocReport }[] = [];
const modelLabels = new Set<string>();
let allMet = true;
for (const positional of positionals) {
  let spec: ReturnType<typeof cohortSpec>;
  try {
    spec = cohortSpec(positional, modelDir);
  } catch (error) {
    cliError((error as Error).message);
  }
  const { parts } = spec;
  const dir = spec.label;
  const inferred: InferredCohort[] = [];
  for (const part of parts) {
    inferred.push(
      await inferCohort(part.dir, part.model, {
        onProgress: (done, total) => process.stderr.write(`\r${part.dir}: inference ${done}/${total}`),
      }),
    );
    process.stderr.write('\n');
  }
  const cohort = pooled(inferred);
  modelLabels.add(`${cohort.model.name} ${cohort.model.version}${cohort.model.calibrated ? ', calibrated' : ''}`);
  const images = evaluateImages(cohort);
  const curve = calibrationCurve(cohort);
  curves.push({ label: labelOf(spec), curve });
  const goals = imageGoals(images);
  // Alerts need follow-up: a cohort with one visit per patient has none to judge.
  const followUp = cohort.images.some((i) => i.visit > 0);
  if (values.alerts && !followUp) process.stderr.write(`${dir}: one visit per patient, no follow-up alerts to judge\n`);
  const alerts = values.alerts && followUp ? evaluateAlerts(cohort) : undefined;
  if (alerts) goals.push(...alertGoals(alerts));
  allMet &&= goals.every((g) => g.met);
  const patients = new Set(cohort.images.map((i) => i.patientId)).size;
  process.stdout.write(
    `\n${dir} — ${patients} patients, ${cohort.images.length} images, model ${cohort.model.name} ${cohort.model.version}\n`,
  );
  process.stdout.write(`${formatGoals(goals)}\n`);
  process.stdout.write(
    `  findings ≥ 5 mm at ≤ 0.1 FP/image: sensitivity ${images.sensitivityAt01Fp} at ${images.falsePositivesPerImageAt01Fp} FP/image (issue 26's bar for phantoms: ≥ 0.93)\n`,
  );
  process.stdout.write(
    `  finding scores: expected calibration error ${curve.expectedCalibrationError} over ${curve.candidates} candidates\n`,
  );
  // FROC as the field reports it: false marks on normal images where a set has them, else outside
  // the outlined lesions; intervals by bootstrap over women.
  // (a set with only a handful of normal images, like CDD-CESM's few without a focal outline, counts
  // marks outside the outlines instead).
  const lesionFroc = froc(cohort, { rule: frocRuleFor(cohort) });
  frocs.push({ label: labelOf(spec), report: lesionFroc });
  process.stdout.write(`  ${frocSummary(lesionFroc)}\n`);
  for (const [type, c] of Object.entries(lesionFroc.byClass).sort())
    process.stdout.write(`    ${type}: ${c.found}/${c.lesions} = ${c.sensitivity} [${c.interval.low}, ${c.interval.high}]\n`);
  if (alerts) {
    const p = alerts.perPatient;
    process.stdout.write(
      `  alerts per patient over ${alerts.studies / Math.max(1, patients)} visits: inbox ${p.inbox} (${p.inboxCorrect} right), to review ${p.review} (${p.reviewCorrect} right)\n`,
    );
    for (const [kind, f] of Object.entries(alerts.byLevel.review))
      process.stdout.write(`    to review: ${kind} ${f.correct} of ${f.alerts} right\n`);
    const m = alerts.recall.growth.missed;
    process.stdout.write(
      `  clear growth not in the inbox: model missed it before ${m.modelMissedBefore}, after ${m.modelMissedAfter}; one view each time ${m.seenInOneViewEachTime}; same view both times ${m.seenBothTimesInAView}; only to review ${m.onlyToReview}\n`,
    );
  }
  report.push({
    dir,
    model: cohort.model,
    images,
    calibration: curve,
    goals,
    froc: { ...lesionFroc, curve: undefined },
    ...(alerts ? { alerts } : {}),
  });
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
if (values.plots) {
  mkdirSync(values.plots, { recursive: true });
  // One model for every curve: named in the title; several (folds, comparisons): the labels name them.
  const modelLabel = modelLabels.size === 1 ? [...modelLabels][0] : 'models as labelled';
  const file = join(values.plots, 'calibration.svg');
  writeFileSync(file, calibrationSvg(curves, `Finding-score reliability (${modelLabel})`));
  const frocFile = join(values.plots, 'froc.svg');
  writeFileSync(frocFile, frocSvg(frocs, `Lesions found vs false marks (${modelLabel})`));
  process.stderr.write(`wrote ${file} and ${frocFile}\n`);
}
process.stdout.write(`\n${allMet ? 'every goal met' : 'some goals not met (✗)'}\n`);
