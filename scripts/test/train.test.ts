import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import ort from 'onnxruntime-node';
import { makeTempDir } from '../harness/temp-dir.js';
import { trainModel } from '../train/train-model.js';

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
