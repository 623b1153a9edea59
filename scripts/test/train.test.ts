import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { makeTempDir } from '../harness/temp-dir.js';
import { trainModel } from '../train/train-model.js';

/** The model's output on a fixed input: how far two models differ, seen from outside. */
async function outputOn(modelDir: string): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(readFileSync(join(modelDir, 'model.onnx')));
  const image = new Float32Array(160 * 128).map((_, i) => ((i * 7919) % 1000) / 1000);
  const output = await session.run({ image: new ort.Tensor('float32', image, [1, 1, 160, 128]) });
  return output.lesion_probability?.data as Float32Array;
}

const meanAbsDifference = (a: Float32Array, b: Float32Array) =>
  a.reduce((sum, v, i) => sum + Math.abs(v - (b[i] ?? 0)), 0) / a.length;

test('a short training run works end to end: phantoms → edge preprocessing → torch → ONNX that ORT runs', async () => {
  const dir = makeTempDir('train');
  try {
    const lines: string[] = [];
    const manifest = await trainModel({
      out: join(dir.path, 'model'),
      workDir: join(dir.path, 'work'),
      patients: 5,
      seed: 7,
      epochs: 1,
      version: '0.0.1',
      matrix: { rows: 512, columns: 416 },
      spec: { width: 128, height: 160, stride: 2, boxDownsample: true },
      crop: 64,
      log: (line) => lines.push(line),
    });
    assert.ok(
      lines.some((l) => l.includes('"epoch": 1')),
      'progress was reported',
    );
    const onnx = readFileSync(join(dir.path, 'model', 'model.onnx'));
    assert.equal(manifest.sha256, createHash('sha256').update(onnx).digest('hex'));
    assert.deepEqual(JSON.parse(readFileSync(join(dir.path, 'model', 'manifest.json'), 'utf8')), manifest);
    assert.ok(manifest.preprocessing.includes('box-downsample'));
    assert.equal(manifest.output.stride, 2);
    const session = await ort.InferenceSession.create(onnx);
    const output = await session.run({ image: new ort.Tensor('float32', new Float32Array(160 * 128), [1, 1, 160, 128]) });
    const probabilities = output.lesion_probability;
    assert.ok(probabilities);
    assert.deepEqual(probabilities.dims, [1, 1, 80, 64]);
    assert.ok((probabilities.data as Float32Array).every((p) => p >= 0 && p <= 1));
  } finally {
    dir.remove();
  }
});

test('--anchor keeps a fine-tuned model closer to the model it started from (L2-SP)', async () => {
  const dir = makeTempDir('train-anchor');
  try {
    const common = {
      workDir: join(dir.path, 'work'),
      patients: 5,
      seed: 7,
      matrix: { rows: 512, columns: 416 },
      spec: { width: 128, height: 160, stride: 2, boxDownsample: true },
      crop: 64,
      log: () => {},
    };
    await trainModel({ ...common, out: join(dir.path, 'base'), epochs: 1, version: '0.0.1' });
    const tune = (name: string, anchor: number) =>
      trainModel({
        ...common,
        out: join(dir.path, name),
        epochs: 3,
        version: '0.0.2',
        init: join(dir.path, 'base'),
        lr: 0.01,
        anchor,
      });
    const free = await tune('free', 0);
    const anchored = await tune('anchored', 1000);
    assert.equal(free.training.anchor, undefined);
    assert.equal(anchored.training.anchor, 1000, 'the manifest records the anchor');
    const base = await outputOn(join(dir.path, 'base'));
    const freeDrift = meanAbsDifference(await outputOn(join(dir.path, 'free')), base);
    const anchoredDrift = meanAbsDifference(await outputOn(join(dir.path, 'anchored')), base);
    assert.ok(freeDrift > 0, 'fine-tuning changed the model');
    assert.ok(anchoredDrift < freeDrift / 2, `anchored drift ${anchoredDrift} vs free ${freeDrift}`);
  } finally {
    dir.remove();
  }
});
