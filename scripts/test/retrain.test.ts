// Issue 16, item 4: retraining from the field without moving images, at a tiny size. A real edge
// analyses phantoms and keeps their de-identified model inputs; clinicians' verdicts (simulated from
// truth.json) reach the hub; the edge fetches its own labels and assembles a training set with the
// `vigil-edge training-set` command; `npm run train -- --from` fine-tunes the bundled model on it;
// the new package is signed, published and passes the self-test an edge runs before installing it.
// At learning rate 0 the fine-tuned model must reproduce the base model (the weights carried over intact).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { analyzeInput, EdgeAgent, inputSpecOf, modelInputFromFile, OnnxModel, runSelfTest, unpackModel } from '@vigil/edge-agent';
import { pseudonym } from '@vigil/shared';
import { type VerdictInput, VerdictService } from '../../cloud-hub/src/verdicts/verdict-service.js';
import { verdictsFromTruth } from '../evaluate/simulated-verdicts.js';
import { edgeEnv, startTestHub } from '../harness/hub-fixture.js';
import { BUNDLED_MODEL, generateSigningKey, packAndSign } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { waitFor } from '../harness/wait-for.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';

const execFileAsync = promisify(execFile);
const ROOT = new URL('../..', import.meta.url).pathname;
const SECRET = 'retrain-test-secret-0123456789abcdef';

/** Runs a command of the repository (asynchronously: the hub it talks to runs in this process). */
async function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  try {
    const { stdout } = await execFileAsync(process.execPath, ['--import', 'tsx', ...args], {
      cwd: ROOT,
      env: { ...process.env, VIGIL_LOG_LEVEL: 'silent', ...env },
      encoding: 'utf8',
      timeout: 600_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; message: string };
    throw new Error(`${args.join(' ')} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

test('verdicts → edge training set → fine-tuned package that an edge would install', async () => {
  const dir = makeTempDir('retrain');
  const signing = generateSigningKey();
  const h = await startTestHub({ models: { trustedKeys: [signing.publicKeyPem] } });
  let agent: EdgeAgent | undefined;
  try {
    const phantoms = join(dir.path, 'phantoms');
    const truth = await generatePhantoms({ out: phantoms, patients: 3, visits: 1, seed: 7171, rows: 1024, columns: 832 });
    const device = { clinicId: 'clinic-a', deviceId: 'mg-1' };
    const password = await h.addDevice(device.clinicId, device.deviceId);
    const env = {
      ...edgeEnv({ ...device, password, mqttUrl: h.mqttUrl, dataDir: join(dir.path, 'edge') }),
      VIGIL_MODEL__DIR: BUNDLED_MODEL,
      VIGIL_DEID__SECRET: SECRET,
      VIGIL_WATCH_FOLDER__PATH: join(dir.path, 'inbox'),
      VIGIL_WATCH_FOLDER__INTERVAL_MS: '100',
      VIGIL_WATCH_FOLDER__STABLE_MS: '0',
      VIGIL_TRAINING__KEEP_INPUTS: 'true',
      VIGIL_HUB_URL: h.httpUrl,
    };
    const { loadEdgeConfig } = await import('@vigil/edge-agent');
    agent = new EdgeAgent(loadEdgeConfig(undefined, env));
    await agent.start();
    const images = truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images));
    mkdirSync(join(dir.path, 'inbox'), { recursive: true });
    for (const image of images) cpSync(join(phantoms, image.file), join(dir.path, 'inbox', image.file.replace(/\//g, '_')));
    await waitFor('every image analysed at the hub', async () => (await h.hub.state.countResults()) === images.length, 180_000);
    await agent.stop();
    agent = undefined;

    // A clinician's verdicts, simulated from truth: each finding confirmed or dismissed, misses added.
    const inputs: VerdictInput[] = [];
    let lesions = 0;
    for (const image of images) {
      const result = await h.hub.state.getResult(
        (await h.hub.state.queryResults({ limit: 500 })).items.find(
          (r) => r.instanceKey === pseudonym(SECRET, 'instance', image.sopInstanceUid),
        )?.messageId ?? 'none',
      );
      assert.ok(result, `the result of ${image.file}`);
      const simulated = verdictsFromTruth(image, result);
      inputs.push(...simulated.inputs);
      lesions += simulated.confirmed + simulated.missed;
    }
    await new VerdictService(h.hub.state, h.hub.state.audit).record(inputs, {
      username: 'dr.a',
      role: 'clinician',
      ip: 'test',
      source: 'api',
      clinics: null,
    });
    assert.ok(lesions > 0, 'the cohort has lesions');

    // The edge assembles its training set: its own kept inputs, the hub's labels.
    const config = join(dir.path, 'edge.json');
    writeFileSync(config, JSON.stringify({}));
    const set = join(dir.path, 'set');
    const assembled = JSON.parse(
      await run(['edge-agent/bin/vigil-edge.mjs', 'training-set', '--config', config, '--out', set], env),
    ) as {
      images: number;
      lesions: number;
    };
    const labelled = new Set(inputs.map((v) => ('resultId' in v ? v.resultId : ''))).size;
    assert.equal(assembled.images, labelled, 'every labelled image had its kept input');
    assert.equal(assembled.lesions, lesions);
    const index = JSON.parse(readFileSync(join(set, 'index.json'), 'utf8')) as { width: number; height: number; count: number };
    assert.equal(readFileSync(join(set, 'inputs.u16')).byteLength, index.count * index.width * index.height * 2);
    const targets = readFileSync(join(set, 'targets.u8'));
    assert.ok(
      targets.some((v) => v === 1),
      'lesions are marked in the targets',
    );
    // No identity in the set: neither the phantoms' patient ids nor names.
    const setText = readFileSync(join(set, 'index.json'), 'utf8');
    for (const p of truth.patients) assert.ok(!setText.includes(p.patientId), 'no patient id in the training set');

    // One epoch of fine-tuning at learning rate 0: the training loop runs on the edge's set, and the
    // model that comes out must reproduce the base model (the weights carried over intact).
    const tuned = join(dir.path, 'tuned');
    const trained = JSON.parse(
      await run([
        'scripts/train/cli.ts',
        '--from',
        set,
        '--base',
        BUNDLED_MODEL,
        '--version',
        '1.1.0',
        '--epochs',
        '1',
        '--lr',
        '0',
        '--out',
        tuned,
      ]),
    ) as { version: string };
    assert.equal(trained.version, '1.1.0');
    type Tuning = { fineTunedFrom: string; images: number; epochs: number; trainLoss?: number };
    const manifest = JSON.parse(readFileSync(join(tuned, 'manifest.json'), 'utf8')) as {
      training: Tuning & { digital?: Tuning; film?: unknown };
      branches?: unknown;
    };
    const baseManifest = JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')) as typeof manifest;
    // A model with a branch per acquisition: the phantoms (digital images) tune the digital branch;
    // the film branch, which no image was for, is kept as it was.
    const tuning = baseManifest.branches ? manifest.training.digital : manifest.training;
    assert.ok(tuning, 'the digital branch was tuned');
    if (baseManifest.branches) {
      assert.deepEqual(manifest.branches, baseManifest.branches, "the film branch's threshold and calibration kept");
      assert.deepEqual(manifest.training.film, baseManifest.training.film, 'the film branch kept as it was');
    }
    assert.match(tuning.fineTunedFrom, /^vigil-demo /);
    assert.equal(tuning.images, assembled.images);
    assert.equal(tuning.epochs, 1);
    const probe = join(phantoms, images.find((i) => i.findings.length > 0)?.file ?? images[0]?.file ?? '');
    const outputOf = async (modelDir: string) => {
      const model = await OnnxModel.load(modelDir);
      const { attrs, input } = await modelInputFromFile(probe, inputSpecOf(model.manifest));
      const out = await analyzeInput(input, attrs, model);
      await model.close();
      return out;
    };
    const base = await outputOf(BUNDLED_MODEL);
    const copy = await outputOf(tuned);
    assert.ok(Math.abs(base.score - copy.score) < 1e-3, `score ${base.score} vs ${copy.score}`);
    assert.equal(copy.findings.length, base.findings.length);

    // The new package is signed, published and self-tested like any.
    const pkg = await packAndSign(tuned, probe, join(dir.path, 'tuned.vpkg'), signing.privateKeyPem);
    await h.hub.models.publish(pkg.path, pkg.signature, 'test');
    const installed = join(dir.path, 'installed');
    await unpackModel(pkg.path, installed);
    const model = await OnnxModel.load(installed);
    const selfTest = await runSelfTest(model, installed);
    await model.close();
    assert.ok(selfTest, 'the self-test an edge runs before activating a package passes');
  } finally {
    await agent?.stop();
    await h.stop();
    dir.remove();
  }
});
