// A model with a branch per acquisition (scripts/train/branches.py): the edge reads the acquisition
// from the image's own attributes, preprocesses with the branch's steps, runs only that branch and
// reads its findings at the branch's threshold and calibration. Composing and extracting must carry
// each network over intact (outputs identical to the plain models'), and a manifest that names a
// selector the graph does not have must be refused at load.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  analyzeInput,
  calibratedScore,
  inputSpecOf,
  modelInputFromFile,
  OnnxModel,
  parseDicom,
  readImageAttributes,
} from '@vigil/edge-agent';
import { VigilError } from '@vigil/shared';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';
import { composeByAcquisition, extractBranch, rawThreshold } from '../train/compose-branches.js';
import { fineTuneModel } from '../train/train-model.js';

const ROOT = join(import.meta.dirname, '../..');
/** A composed model in the repository: fold 0's film branch and 0.5.0 as the digital one. */
const COMPOSED = join(ROOT, 'models/cross-validation/fold-0');

async function outputOf(modelDir: string, file: string) {
  const model = await OnnxModel.load(modelDir);
  try {
    const { attrs, input } = await modelInputFromFile(file, inputSpecOf(model.manifest));
    return { attrs, input, ...(await analyzeInput(input, attrs, model)) };
  } finally {
    await model.close();
  }
}

test('a composed model runs the film branch on scanned film and the digital branch on the rest, each as its own model would', async () => {
  const dir = makeTempDir('branches');
  try {
    const log = () => {};
    const film = await extractBranch(COMPOSED, 'film', join(dir.path, 'film'), log);
    const digital = await extractBranch(COMPOSED, 'digital', join(dir.path, 'digital'), log);
    assert.ok(film.preprocessing.includes('breast-mask-normalise'), 'the film branch keeps its own preprocessing');
    assert.ok(!digital.preprocessing.includes('breast-mask-normalise'));
    const composed = await composeByAcquisition({
      digital: join(dir.path, 'digital'),
      film: join(dir.path, 'film'),
      out: join(dir.path, 'composed'),
      version: '9.9.9',
      log,
    });
    assert.equal(composed.branches?.film.finding, film.thresholds.finding);
    // Each branch's training record, not the composition's, travels with it (and back).
    const original = JSON.parse(readFileSync(join(COMPOSED, 'manifest.json'), 'utf8'));
    assert.deepEqual(film.training, original.training.film);
    assert.deepEqual(composed.training.film, original.training.film);
    assert.deepEqual(composed.training.digital, original.training.digital);
    assert.deepEqual(composed.branches?.film.calibration, film.calibration);

    // One phantom image as a digital detector wrote it, and the same pixels as scanned film.
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 1,
      visits: 1,
      seed: 4242,
      rows: 1024,
      columns: 832,
    });
    const image = truth.patients[0]?.visits[0]?.images.find((i) => i.view === 'MLO');
    assert.ok(image);
    const digitalFile = join(dir.path, 'phantoms', image.file);
    const filmFile = join(dir.path, 'film.dcm');
    copyFileSync(digitalFile, filmFile);
    execFileSync('dcmodify', ['-nb', '-i', '(0018,7004)=FILM', filmFile]);
    const dfFile = join(dir.path, 'df.dcm');
    copyFileSync(digitalFile, dfFile);
    execFileSync('dcmodify', ['-nb', '-i', '(0008,0064)=DF', dfFile]);
    const acquisitionOf = (file: string) => readImageAttributes(parseDicom(readFileSync(file)).dataSet).acquisition;
    assert.equal(acquisitionOf(digitalFile), 'digital');
    assert.equal(acquisitionOf(filmFile), 'film', 'Detector Type FILM');
    assert.equal(acquisitionOf(dfFile), 'film', 'Conversion Type DF (digitized film)');

    const asFilm = await outputOf(join(dir.path, 'composed'), filmFile);
    const filmAlone = await outputOf(join(dir.path, 'film'), filmFile);
    assert.equal(asFilm.input.acquisition, 'film');
    assert.ok(asFilm.input.breast, 'film was preprocessed with the film branch steps (breast mask)');
    assert.equal(asFilm.score, filmAlone.score, 'the film branch is the film model');
    assert.deepEqual(asFilm.findings, filmAlone.findings, "at the film model's own threshold and calibration");

    const asDigital = await outputOf(join(dir.path, 'composed'), digitalFile);
    const digitalAlone = await outputOf(join(dir.path, 'digital'), digitalFile);
    assert.equal(asDigital.input.acquisition, 'digital');
    assert.equal(asDigital.input.breast, undefined, "digital images keep the digital model's steps");
    assert.equal(asDigital.score, digitalAlone.score, 'the digital branch is the digital model');
    assert.deepEqual(asDigital.findings, digitalAlone.findings);
    assert.notDeepEqual(
      asFilm.findings,
      asDigital.findings,
      `the two branches are different networks (${asFilm.score}, ${asDigital.score})`,
    );

    // A manifest naming a selector the graph does not have is refused, with a code.
    const broken = join(dir.path, 'broken');
    execFileSync('cp', ['-r', join(dir.path, 'composed'), broken]);
    const manifest = JSON.parse(readFileSync(join(broken, 'manifest.json'), 'utf8'));
    manifest.branches.selector = 'scanned';
    writeFileSync(join(broken, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(
      OnnxModel.load(broken),
      (error: unknown) =>
        error instanceof VigilError && error.code === 'VIGIL_MODEL_LOAD_FAILED' && /scanned/.test(error.message),
    );
    // A film branch asking for a preprocessing step this edge does not have.
    manifest.branches.selector = 'film';
    manifest.branches.film.preprocessing = [...manifest.branches.film.preprocessing, 'dense-tissue-equalise'];
    writeFileSync(join(broken, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(
      OnnxModel.load(broken),
      (error: unknown) =>
        error instanceof VigilError && error.code === 'VIGIL_MODEL_INVALID' && /dense-tissue-equalise/.test(error.message),
    );
    manifest.branches.film.preprocessing = manifest.branches.film.preprocessing.slice(0, -1);
    // And a plain model whose manifest claims branches.
    copyFileSync(join(dir.path, 'digital', 'model.onnx'), join(broken, 'model.onnx'));
    manifest.branches.selector = 'film';
    manifest.sha256 = digital.sha256;
    writeFileSync(join(broken, 'manifest.json'), JSON.stringify(manifest));
    await assert.rejects(
      OnnxModel.load(broken),
      (error: unknown) => error instanceof VigilError && error.code === 'VIGIL_MODEL_LOAD_FAILED',
    );
  } finally {
    dir.remove();
  }
});

test('a film operating point given as a calibrated score becomes the map probability the calibration sends there', () => {
  const calibration = { method: 'platt' as const, a: 0.8, b: -0.6 };
  for (const score of [0.05, 0.1, 0.3]) {
    const p = rawThreshold(score, { calibration });
    assert.ok(Math.abs(calibratedScore(p, calibration) - score) < 1e-3, `${score} → ${p}`);
  }
  assert.equal(rawThreshold(0.3, {}), 0.3, 'an uncalibrated model: the score is the probability');
  assert.equal(rawThreshold(0.999999, { calibration }), 0.99, 'kept within (0.01, 0.99)');
  assert.throws(() => rawThreshold(1.5, { calibration }), /\(0, 1\)/);
});

test('fine-tuning a composed model on film inputs tunes its film branch and keeps the digital one', async () => {
  const dir = makeTempDir('branches-tune');
  try {
    const base = JSON.parse(readFileSync(join(COMPOSED, 'manifest.json'), 'utf8'));
    const { width, height } = base.input;
    const stride = base.output.stride;
    // A training set as an edge assembles it: two film inputs (a bright disc on grey), one lesion each.
    const set = join(dir.path, 'set');
    mkdirSync(set, { recursive: true });
    const count = 2;
    const inputs = new Uint16Array(count * width * height).fill(20000);
    const mapW = Math.ceil(width / stride);
    const mapH = Math.ceil(height / stride);
    const targets = new Uint8Array(count * mapW * mapH);
    for (let n = 0; n < count; n++)
      for (let y = -20; y <= 20; y++)
        for (let x = -20; x <= 20; x++) {
          if (x * x + y * y > 400) continue;
          inputs[n * width * height + (300 + y) * width + 200 + x] = 50000;
          targets[n * mapW * mapH + Math.floor((300 + y) / stride) * mapW + Math.floor((200 + x) / stride)] = 1;
        }
    writeFileSync(join(set, 'inputs.u16'), new Uint8Array(inputs.buffer));
    writeFileSync(join(set, 'targets.u8'), targets);
    const images = Array.from({ length: count }, (_, n) => ({
      file: `f${n}`,
      patientId: `p${n}`,
      positive: true,
      findings: 1,
      centres: [{ x: 200, y: 300, kind: 'finding' }],
      acquisition: 'film',
    }));
    writeFileSync(join(set, 'index.json'), JSON.stringify({ count, width, height, stride, images }));
    const lines: string[] = [];
    const tuned = await fineTuneModel({
      base: COMPOSED,
      from: [set],
      out: join(dir.path, 'tuned'),
      workDir: join(dir.path, 'work'),
      epochs: 1,
      seed: 3,
      version: '9.9.10',
      lr: 0.001,
      log: (line) => lines.push(line),
    });
    assert.equal(tuned.version, '9.9.10');
    assert.ok(tuned.branches, 'still a model with branches');
    assert.deepEqual(tuned.training.digital, base.training.digital, 'the digital branch, which no input was for, kept');
    assert.match(String((tuned.training.film as { fineTunedFrom?: string }).fineTunedFrom), /^vigil-demo /);
    assert.ok(lines.some((l) => l.includes('digital branch: no training image is for it')));
    // The digital network is byte for byte the base's; the film network has moved.
    const networkOf = async (model: string, branch: 'digital' | 'film', name: string) => {
      await extractBranch(model, branch, join(dir.path, name), () => {});
      return readFileSync(join(dir.path, name, 'model.onnx'));
    };
    assert.ok((await networkOf(join(dir.path, 'tuned'), 'digital', 'd1')).equals(await networkOf(COMPOSED, 'digital', 'd0')));
    assert.ok(!(await networkOf(join(dir.path, 'tuned'), 'film', 'f1')).equals(await networkOf(COMPOSED, 'film', 'f0')));
  } finally {
    dir.remove();
  }
});
