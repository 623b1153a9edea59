import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Acquisition,
  type ModelManifest as EdgeModelManifest,
  preprocessingSteps,
  type TrainingSetIndex,
} from '@vigil/edge-agent';
import { calibrationSamples, fitPlatt } from '../evaluate/calibration.js';
import { calibrateFindingThreshold } from '../evaluate/evaluate.js';
import { inferCohort } from '../evaluate/infer-cohort.js';
import { GENERATOR_VERSION, generatePhantoms, readTruth } from '../phantoms/generate-phantoms.js';
import { combineCohorts } from './combine-cohorts.js';
import { composeByAcquisition, extractBranch } from './compose-branches.js';
import { exportTensors, type TensorSpec } from './export-tensors.js';
import { runPython } from './python.js';

export interface TrainOptions {
  out: string;
  workDir: string;
  patients: number;
  seed: number;
  epochs: number;
  version: string;
  matrix: { rows: number; columns: number };
  spec: TensorSpec;
  /** Training crop size in input pixels (default: train.py's). */
  crop?: number;
  /**
   * Each training patient is rendered at one visit out of this many planned (default 4), so
   * lesions come at the sizes a follow-up reaches (up to 50 mm and more), not only baseline sizes.
   */
  plannedVisits?: number;
  /** Start from this model's weights (a directory with manifest.json and model.onnx) instead of afresh. */
  init?: string;
  /** With `init`: pull the weights toward the initial model's (L2-SP strength; default 0, none). */
  anchor?: number;
  /** Peak learning rate (default: train.py's). */
  lr?: number;
  /** Random scale and rotation of training crops, 0 (none) to 1 (±25 %, ±10°). */
  geometric?: number;
  /**
   * Cohorts to train on besides (or, with `patients` 0, instead of) the phantoms: converted real
   * datasets (`npm run datasets`), read where they are.
   */
  data?: string[];
  /** Each real image is seen this many times per epoch, phantoms once (default 1). */
  realRepeat?: number;
  /** Share of the women held out of the run for its own threshold and calibration (default: train.py's 0.2). */
  valFraction?: number;
  /** Keep preprocessed inputs here and reuse them (several runs over the same images). */
  tensorCache?: string;
  /** A crop drawn at a finding holds all of it where it fits (large masses seen whole, not cut by the crop). */
  wholeFindings?: boolean;
  /** Share of finding crops drawn at a large finding (radius ≥ 1/8 of the crop) where the image has one. */
  largeShare?: number;
  /** Women left out of training (a cross-validation fold held out for evaluation). */
  exclude?: (womanId: string) => boolean;
  log: (line: string) => void;
}

/** The package's manifest: the edge's own schema (one declaration). */
export type ModelManifest = EdgeModelManifest & { training: Record<string, unknown>; intendedUse: string };

function readTruthIfPresent(dir: string): ReturnType<typeof readTruth>['truth'] | undefined {
  return existsSync(join(dir, 'truth.json')) ? readTruth(dir).truth : undefined;
}

/** Phantoms → edge preprocessing → torch training → ONNX + manifest.json. */
export async function trainModel(o: TrainOptions): Promise<ModelManifest> {
  mkdirSync(o.out, { recursive: true });
  const phantoms = join(o.workDir, 'phantoms');
  const tensors = join(o.workDir, 'tensors');
  mkdirSync(tensors, { recursive: true });
  o.log(`generating ${o.patients} training patients (seed ${o.seed})`);
  const progress = (stage: string) => {
    let last = -1;
    return (done: number, total: number) => {
      const percent = Math.floor((done / total) * 20) * 5;
      if (percent === last) return;
      last = percent;
      o.log(JSON.stringify({ stage, done, total }));
    };
  };
  // A kept work dir (--work-dir) with the same cohort skips the slowest step when iterating on training.
  const plannedVisits = o.plannedVisits ?? 4;
  const existing = readTruthIfPresent(phantoms);
  const sameMatrix = existing?.patients[0]?.visits[0]?.images[0]?.columns === o.matrix.columns;
  if (o.patients === 0) o.log('no phantoms: training on the given cohorts only');
  else if (
    existing &&
    sameMatrix &&
    existing.version === GENERATOR_VERSION &&
    existing.seed === o.seed &&
    existing.oneVisitOf === plannedVisits &&
    existing.patients.length === o.patients
  )
    o.log('reusing generated phantoms');
  else
    await generatePhantoms({
      out: phantoms,
      patients: o.patients,
      visits: plannedVisits,
      oneVisitPerPatient: true,
      seed: o.seed,
      ...o.matrix,
      onProgress: progress('phantoms'),
    });
  // Real cohorts join the phantoms in one cohort (files stay where they are); a held-out fold's
  // women are left out here, before anything is trained on them.
  const combined = o.data?.length
    ? combineCohorts(join(o.workDir, 'cohort'), [...(o.patients > 0 ? [phantoms] : []), ...o.data], o.exclude)
    : undefined;
  const cohort = combined?.dir ?? phantoms;
  if (combined) for (const s of combined.sources) o.log(JSON.stringify({ cohort: s }));
  o.log('exporting tensors with the edge decode + preprocess code');
  const set = await exportTensors(cohort, tensors, o.spec, progress('tensors'), o.tensorCache);
  const onnx = join(o.out, 'model.onnx');
  const lines = await runPython(
    [
      join(import.meta.dirname, 'train.py'),
      tensors,
      onnx,
      '--epochs',
      String(o.epochs),
      '--seed',
      String(o.seed),
      ...(o.crop ? ['--crop', String(o.crop)] : []),
      ...(o.init ? ['--init', join(o.init, 'model.onnx')] : []),
      ...(o.lr ? ['--lr', String(o.lr)] : []),
      ...(o.init && o.anchor ? ['--anchor', String(o.anchor)] : []),
      ...(o.geometric ? ['--geometric', String(o.geometric)] : []),
      ...(o.realRepeat && o.realRepeat !== 1 ? ['--real-repeat', String(o.realRepeat)] : []),
      ...(o.valFraction !== undefined ? ['--val-fraction', String(o.valFraction)] : []),
      ...(o.wholeFindings ? ['--whole-findings'] : []),
      ...(o.largeShare ? ['--large-share', String(o.largeShare)] : []),
    ],
    o.log,
  );
  const summary = lines.at(-1) ?? {};
  if (o.geometric) summary.geometricAugmentation = o.geometric;
  if (o.realRepeat && o.realRepeat !== 1) summary.realRepeat = o.realRepeat;
  if (o.wholeFindings) summary.wholeFindings = true;
  if (o.largeShare) summary.largeShare = o.largeShare;
  if (o.init) {
    const base = JSON.parse(readFileSync(join(o.init, 'manifest.json'), 'utf8')) as ModelManifest;
    summary.initFrom = `${base.name} ${base.version}`;
    if (o.lr) summary.lr = o.lr;
    if (o.anchor) summary.anchor = o.anchor;
  }
  const manifest: ModelManifest = {
    name: 'vigil-demo',
    version: o.version,
    file: 'model.onnx',
    sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex'),
    input: { name: 'image', width: o.spec.width, height: o.spec.height, channels: 1, layout: 'NCHW', dtype: 'float32' },
    preprocessing: preprocessingSteps(o.spec),
    output: { name: 'lesion_probability', kind: 'lesion-probability', stride: o.spec.stride },
    thresholds: { finding: 0.5, minAreaMm2: 3, maxFindings: 20 },
    training: {
      phantomSeed: o.seed,
      patients: o.patients,
      oneVisitOf: plannedVisits,
      images: set.count,
      epochs: o.epochs,
      ...(combined
        ? { cohorts: combined.sources.map((s) => ({ generator: s.generator, women: s.women, images: s.images })) }
        : {}),
      ...summary,
    },
    intendedUse: combined
      ? 'Research and demonstration only: trained on synthetic phantoms and public research mammography datasets (see the model card for their licences); not a medical device.'
      : 'Demonstration only: trained on synthetic phantoms; not a medical device.',
  };
  writeFileSync(join(o.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  // The shipped finding threshold: the operating point on the run's own held-out patients (never
  // trained on) with at most FALSE_POSITIVES_PER_IMAGE, through the edge's inference path.
  const heldOut = new Set((summary.heldOutPatients as string[] | undefined) ?? []);
  if (heldOut.size > 0) {
    o.log('calibrating the finding threshold on the held-out patients');
    const point = await calibrateFindingThreshold(cohort, o.out, heldOut, FALSE_POSITIVES_PER_IMAGE);
    if (point) {
      manifest.thresholds.finding = Math.min(0.99, Math.max(0.05, point.threshold));
      manifest.training.operatingPoint = { maxFalsePositivesPerImage: FALSE_POSITIVES_PER_IMAGE, ...point };
      writeFileSync(join(o.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    } else o.log(`no threshold keeps within ${FALSE_POSITIVES_PER_IMAGE} FP/image on the held-out patients: keeping 0.5`);
    o.log('calibrating finding scores on the held-out patients');
    await calibrateScores(cohort, o.out, heldOut, o.log);
  }
  return manifest;
}

/**
 * Fits the finding-score calibration (Platt scaling) on the findings the model reports for the given
 * patients at its shipped threshold, and writes it into the manifest.
 */
export async function calibrateScores(
  phantomDir: string,
  modelDir: string,
  patients: ReadonlySet<string>,
  log: (line: string) => void,
): Promise<void> {
  const file = join(modelDir, 'manifest.json');
  const manifest = JSON.parse(readFileSync(file, 'utf8')) as ModelManifest;
  delete manifest.calibration;
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
  const samples = calibrationSamples(await inferCohort(phantomDir, modelDir, { patients }));
  if (samples.length < 50 || samples.every((s) => s.real) || samples.every((s) => !s.real)) {
    log(`too few findings (${samples.length}) of both kinds to calibrate scores: left uncalibrated`);
    return;
  }
  manifest.calibration = { method: 'platt', ...fitPlatt(samples) };
  manifest.training.calibration = { findings: samples.length, real: samples.filter((s) => s.real).length };
  writeFileSync(file, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** Half the quality bar's limit (0.5 per image), for margin on unseen data. */
const FALSE_POSITIVES_PER_IMAGE = 0.25;

export interface FineTuneOptions {
  /** The model to start from (a directory with manifest.json and model.onnx). */
  base: string;
  /** Training sets assembled by edges (`vigil-edge training-set`), one or several clinics. */
  from: string[];
  out: string;
  workDir: string;
  epochs: number;
  seed: number;
  version: string;
  lr: number;
  log: (line: string) => void;
}

/** An edge's training set (`vigil-edge training-set`); `source` is absent in sets merged here. */
type SetIndex = Omit<TrainingSetIndex, 'source'> & { source?: TrainingSetIndex['source'] };

/**
 * Fine-tunes a model on the training sets edges assembled from clinicians' verdicts: the sets are
 * concatenated (they must share the model's input size), train.py starts from the base model's
 * weights, and the new package keeps the base's preprocessing and thresholds with a new version.
 * A model with a branch per acquisition has each branch fine-tuned on the images made for it (a
 * branch no image is for is kept as it was), then composed again.
 */
export async function fineTuneModel(o: FineTuneOptions): Promise<ModelManifest> {
  const base = JSON.parse(readFileSync(join(o.base, 'manifest.json'), 'utf8')) as ModelManifest;
  if (!base.branches) return fineTunePlain(o, base, () => true);
  const dirs: Record<Acquisition, string> = { digital: '', film: '' };
  for (const branch of ['digital', 'film'] as const) {
    const baseDir = join(o.workDir, `base-${branch}`);
    const branchBase = await extractBranch(o.base, branch, baseDir, o.log);
    const outDir = join(o.workDir, `tuned-${branch}`);
    const tuned = await fineTunePlain(
      { ...o, base: baseDir, out: outDir, workDir: join(o.workDir, `work-${branch}`) },
      branchBase,
      (image) => (image.acquisition ?? 'digital') === branch,
    ).catch((error: Error) => {
      if (!(error instanceof NoTrainingImages)) throw error;
      o.log(`${branch} branch: no training image is for it, kept as it was`);
      return undefined;
    });
    dirs[branch] = tuned ? outDir : baseDir;
  }
  return composeByAcquisition({ digital: dirs.digital, film: dirs.film, out: o.out, version: o.version, log: o.log });
}

class NoTrainingImages extends Error {}

async function fineTunePlain(
  o: FineTuneOptions,
  base: ModelManifest,
  keep: (image: SetIndex['images'][number]) => boolean,
): Promise<ModelManifest> {
  const tensors = join(o.workDir, 'tensors');
  mkdirSync(tensors, { recursive: true });
  mkdirSync(o.out, { recursive: true });
  const merged: SetIndex = {
    count: 0,
    width: base.input.width,
    height: base.input.height,
    stride: base.output.stride,
    images: [],
  };
  const inputs: Buffer[] = [];
  const targets: Buffer[] = [];
  const sources: Record<string, unknown>[] = [];
  const inputBytes = merged.width * merged.height * 2;
  const targetBytes = Math.ceil(merged.width / merged.stride) * Math.ceil(merged.height / merged.stride);
  for (const dir of o.from) {
    const set = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as SetIndex;
    if (set.width !== merged.width || set.height !== merged.height || set.stride !== merged.stride) {
      throw new Error(
        `${dir}: a ${set.width}×${set.height} set (stride ${set.stride}) for a ${merged.width}×${merged.height} model (stride ${merged.stride})`,
      );
    }
    const setInputs = readFileSync(join(dir, 'inputs.u16'));
    const setTargets = readFileSync(join(dir, 'targets.u8'));
    let kept = 0;
    for (const [n, image] of set.images.entries()) {
      if (!keep(image)) continue;
      inputs.push(setInputs.subarray(n * inputBytes, (n + 1) * inputBytes));
      targets.push(setTargets.subarray(n * targetBytes, (n + 1) * targetBytes));
      merged.images.push(image);
      kept++;
    }
    merged.count += kept;
    sources.push({ dir, images: kept, ...(set.source ?? {}) });
    o.log(`training set ${dir}: ${kept} of ${set.count} images`);
  }
  if (merged.count === 0) throw new NoTrainingImages('the training sets hold no images');
  writeFileSync(join(tensors, 'inputs.u16'), Buffer.concat(inputs));
  writeFileSync(join(tensors, 'targets.u8'), Buffer.concat(targets));
  writeFileSync(join(tensors, 'index.json'), `${JSON.stringify(merged)}\n`);
  const onnx = join(o.out, 'model.onnx');
  const lines = await runPython(
    [
      join(import.meta.dirname, 'train.py'),
      tensors,
      onnx,
      '--init',
      join(o.base, base.file),
      '--epochs',
      String(o.epochs),
      '--seed',
      String(o.seed),
      '--lr',
      String(o.lr),
      '--batch',
      String(Math.min(16, Math.max(1, merged.count))),
    ],
    o.log,
  );
  const summary = lines.at(-1) ?? {};
  const manifest: ModelManifest = {
    ...base,
    version: o.version,
    file: 'model.onnx',
    sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex'),
    training: {
      fineTunedFrom: `${base.name} ${base.version}`,
      sets: sources,
      images: merged.count,
      epochs: o.epochs,
      learningRate: o.lr,
      ...summary,
    },
  };
  delete (manifest as { selfTest?: unknown }).selfTest;
  writeFileSync(join(o.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}
