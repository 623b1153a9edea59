// Training tensors come from the edge's own decode + preprocess; cross-validation caches each image's
// model input so that folds and stages (each reaching the same phantoms through its own directory, by a
// link) preprocess an image once. The cache is keyed by the file's bytes and the input spec: the same
// bytes under another path hit it, changed bytes or another spec miss it, and a hit gives exactly the
// tensors a fresh preprocess gives.
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';
import { exportTensors, type TensorSpec } from '../train/export-tensors.js';

const SPEC: TensorSpec = { width: 144, height: 176, stride: 2, boxDownsample: true };

test('the tensor cache is keyed by content and spec: a linked copy hits it, changed bytes miss it', async () => {
  const dir = makeTempDir('tensor-cache');
  try {
    const phantoms = join(dir.path, 'phantoms');
    const truth = await generatePhantoms({ out: phantoms, patients: 1, visits: 1, seed: 4242, rows: 512, columns: 416 });
    const cache = join(dir.path, 'cache');
    const entries = () => readdirSync(cache).filter((f) => f.endsWith('.u16')).length;
    const run = async (from: string, name: string, spec = SPEC) => {
      const out = join(dir.path, name);
      mkdirSync(out);
      await exportTensors(from, out, spec, undefined, cache);
      return readFileSync(join(out, 'inputs.u16'));
    };
    const fresh = await run(phantoms, 'fresh-uncached');
    const images = entries();
    assert.equal(images, 4, 'one entry per image');
    // Another run's directory reaching the same phantoms through a link: every image from the cache.
    const linked = join(dir.path, 'run-2-phantoms');
    symlinkSync(phantoms, linked);
    assert.deepEqual(await run(linked, 'linked'), fresh, 'a hit gives the tensors a fresh preprocess gives');
    assert.equal(entries(), images, 'no new entry for the same bytes under another path');
    // Another spec is another entry.
    await run(phantoms, 'other-spec', { ...SPEC, width: 160 });
    assert.equal(entries(), 2 * images);
    // One file's bytes changed (a pixel, same size): that file misses, the others hit.
    const file = truth.patients[0]?.visits[0]?.images[0]?.file;
    assert.ok(file);
    const bytes = readFileSync(join(phantoms, file));
    bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0xff;
    writeFileSync(join(phantoms, file), bytes);
    await run(phantoms, 'changed');
    assert.equal(entries(), 2 * images + 1);
  } finally {
    dir.remove();
  }
});
