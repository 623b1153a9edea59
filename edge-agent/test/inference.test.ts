import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { assertSchema, ResultMessage } from '@vigil/shared';
import sharp from 'sharp';
import { freePort } from '../../scripts/harness/free-port.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms, type Truth } from '../../scripts/phantoms/generate-phantoms.js';
import { loadEdgeConfig } from '../src/config.js';
import { EdgeAgent } from '../src/edge-agent.js';
import { OnnxModel } from '../src/inference/onnx-model.js';

const run = promisify(execFile);
const MODEL = join(import.meta.dirname, '../../models/vigil-demo');
const EDGE_BIN = join(import.meta.dirname, '../bin/vigil-edge.mjs');
const dir = makeTempDir('inference');
let truth: Truth;

before(async () => {
  truth = await generatePhantoms({ out: join(dir.path, 'phantoms'), patients: 2, visits: 1, seed: 31, rows: 1024, columns: 832 });
});
after(() => dir.remove());

test('the checked-in model loads (verified hash, warm-up run) on CPU here', async () => {
  const model = await OnnxModel.load(MODEL);
  assert.equal(model.provider, 'cpu');
  assert.equal(model.manifest.name, 'vigil-demo');
  await model.close();
});

test('a corrupt or mismatched model package fails at load with a clear code', async () => {
  const tampered = join(dir.path, 'tampered');
  cpSync(MODEL, tampered, { recursive: true });
  const onnx = readFileSync(join(tampered, 'model.onnx'));
  onnx[onnx.length - 10] = (onnx[onnx.length - 10] as number) ^ 0xff;
  writeFileSync(join(tampered, 'model.onnx'), onnx);
  await assert.rejects(OnnxModel.load(tampered), { code: 'VIGIL_MODEL_INVALID' });

  const noManifest = join(dir.path, 'no-manifest');
  mkdirSync(noManifest);
  copyFileSync(join(MODEL, 'model.onnx'), join(noManifest, 'model.onnx'));
  await assert.rejects(OnnxModel.load(noManifest), { code: 'VIGIL_MODEL_INVALID' });

  // A preprocessing step this edge does not implement: refused at load, naming the step.
  const unknownStep = join(dir.path, 'unknown-step');
  cpSync(MODEL, unknownStep, { recursive: true });
  const stepped = JSON.parse(readFileSync(join(unknownStep, 'manifest.json'), 'utf8')) as { preprocessing: string[] };
  stepped.preprocessing.push('clahe');
  writeFileSync(join(unknownStep, 'manifest.json'), JSON.stringify(stepped));
  await assert.rejects(OnnxModel.load(unknownStep), (e: { code: string; message: string }) => {
    assert.equal(e.code, 'VIGIL_MODEL_INVALID');
    assert.match(e.message, /clahe/);
    return true;
  });

  const renamed = join(dir.path, 'renamed');
  cpSync(MODEL, renamed, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(renamed, 'manifest.json'), 'utf8')) as { output: { name: string } };
  manifest.output.name = 'no_such_output';
  writeFileSync(join(renamed, 'manifest.json'), JSON.stringify(manifest));
  await assert.rejects(OnnxModel.load(renamed), { code: 'VIGIL_MODEL_LOAD_FAILED' });

  const garbage = join(dir.path, 'garbage');
  cpSync(MODEL, garbage, { recursive: true });
  writeFileSync(join(garbage, 'model.onnx'), 'not a model');
  const m = JSON.parse(readFileSync(join(garbage, 'manifest.json'), 'utf8')) as { sha256: string };
  m.sha256 = (await import('node:crypto')).createHash('sha256').update('not a model').digest('hex');
  writeFileSync(join(garbage, 'manifest.json'), JSON.stringify(m));
  await assert.rejects(OnnxModel.load(garbage), { code: 'VIGIL_MODEL_LOAD_FAILED' });
});

test('vigil-edge infer --json: one line per file in the contract shape; bad files get the error shape', async () => {
  const files = truth.patients[0]?.visits[0]?.images.map((i) => join(dir.path, 'phantoms', i.file)) ?? [];
  const bad = join(dir.path, 'bad.dcm');
  writeFileSync(bad, 'nope');
  const env = { ...process.env, VIGIL_DEID__SECRET: 'infer-cli-test-secret-01' };
  const { stdout } = await run(process.execPath, [EDGE_BIN, 'infer', '--json', '--model', MODEL, ...files, bad], { env }).catch(
    (e: { stdout: string; code: number }) => {
      assert.equal(e.code, 1, 'exit status 1 when a file failed');
      return e;
    },
  );
  const lines = stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, files.length + 1);
  for (const line of lines.slice(0, -1)) {
    assert.equal(line.ok, true);
    assert.match(String(line.resultId), /^[0-9a-f]{32}$/);
    assert.deepEqual(line.model, {
      name: 'vigil-demo',
      version: JSON.parse(readFileSync(join(MODEL, 'manifest.json'), 'utf8')).version,
    });
    assert.ok(typeof line.score === 'number' && line.score >= 0 && line.score <= 1);
    assert.ok(Array.isArray(line.findings));
    assert.deepEqual(Object.keys(line.timingsMs as object).sort(), ['decode', 'infer', 'preprocess']);
  }
  assert.deepEqual(lines.at(-1), {
    file: bad,
    ok: false,
    error: { code: 'VIGIL_DICOM_NOT_DICOM', message: 'no DICM prefix at byte 128 and no recognisable dataset' },
  });
  const again = await run(process.execPath, [EDGE_BIN, 'infer', '--json', '--model', MODEL, files[0] as string], { env });
  assert.deepEqual(
    JSON.parse(again.stdout),
    { ...lines[0], timingsMs: JSON.parse(again.stdout).timingsMs },
    'stable results for a known phantom',
  );
});

test('end to end: C-STORE to the edge → inference → vigil.result/1 stored at the hub', async () => {
  let hub: TestHub | undefined;
  let agent: EdgeAgent | undefined;
  try {
    hub = await startTestHub();
    const password = await hub.addDevice('clinic-a', 'edge-infer');
    const port = await freePort();
    agent = new EdgeAgent(
      loadEdgeConfig(undefined, {
        VIGIL_CLINIC_ID: 'clinic-a',
        VIGIL_DEVICE_ID: 'edge-infer',
        VIGIL_DATA_DIR: join(dir.path, 'edge'),
        VIGIL_MQTT__URL: hub.mqttUrl,
        VIGIL_MQTT__PASSWORD: password,
        VIGIL_DICOM__ENABLED: 'true',
        VIGIL_DICOM__PORT: String(port),
        VIGIL_DICOM__ALLOW_ANY_CALLING_AE: 'true',
        VIGIL_DEID__SECRET: 'inference-test-secret-0001',
        VIGIL_MODEL__DIR: MODEL,
        VIGIL_OVERLAY__SEND: 'true',
      }),
    );
    await agent.start();
    const files = truth.patients[1]?.visits[0]?.images.map((i) => join(dir.path, 'phantoms', i.file)) ?? [];
    await run('storescu', ['-aec', 'VIGIL', '127.0.0.1', String(port), ...files]);
    const h = hub;
    await waitFor('four results at the hub', async () => (await h.hub.state.countResults()) === files.length, 60_000);
    for (const id of await h.hub.state.listResultIds()) {
      const stored = await h.hub.state.getResult(id);
      const { receivedAt: _, ...result } = stored as NonNullable<typeof stored>;
      assertSchema(ResultMessage, result, 'stored result');
      assert.equal(result.model.name, 'vigil-demo');
      assert.equal(result.modality, 'MG');
      assert.ok(['L', 'R'].includes(result.laterality) && ['CC', 'MLO'].includes(result.view));
      // Opted in: a low-resolution overlay PNG travels with the result, and the same file is kept at the edge.
      const png = Buffer.from(result.overlayPng ?? '', 'base64');
      const meta = await sharp(png).metadata();
      assert.equal(meta.format, 'png');
      assert.ok((meta.width ?? 0) <= 256 && (meta.height ?? 0) <= 320 && (meta.width ?? 0) > 100, `${meta.width}×${meta.height}`);
      assert.deepEqual(readFileSync(join(dir.path, 'edge', 'overlays', `${result.instanceKey}.png`)), png);
    }
    assert.equal(agent.counters.inferenceProvider, 'cpu');
  } finally {
    await agent?.stop();
    await hub?.stop();
  }
});
