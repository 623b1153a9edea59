import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';
import { initCodecs } from '../src/imaging/codecs.js';
import { parseDicom } from '../src/imaging/dicom-file.js';
import { toPresentation } from '../src/imaging/display-transform.js';
import { readImageAttributes } from '../src/imaging/image-attributes.js';
import { decodeFrame } from '../src/imaging/pixel-data.js';
import { boxDownsample, preprocess } from '../src/inference/preprocess.js';
import { runDecodeTask } from '../src/pipeline/decode-task.js';

for (const boxDownsample of [false, true])
  test(`preprocess${boxDownsample ? ' with box-downsample' : ''}: letterboxed float tensor, chest wall on the left, findings where truth puts them`, async () => {
    await initCodecs();
    const dir = makeTempDir('preprocess');
    try {
      const truth = await generatePhantoms({ out: dir.path, patients: 3, visits: 1, seed: 21, rows: 1024, columns: 832 });
      const images = truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images));
      const spec = { width: 256, height: 320, boxDownsample };
      let checkedFinding = false;
      for (const image of images.slice(0, 8)) {
        const parsed = parseDicom(readFileSync(join(dir.path, image.file)));
        const attrs = readImageAttributes(parsed.dataSet);
        const input = await preprocess(decodeFrame(parsed, attrs, 0).pixels, attrs, spec);
        assert.deepEqual(input.dims, [1, 1, 320, 256]);
        assert.equal(input.tensor.length, 320 * 256);
        assert.ok(input.tensor.every((v) => v >= 0 && v <= 1));
        // Phantoms put the chest wall at the left for R and at the right for L.
        assert.equal(input.mirrored, image.laterality === 'L', image.file);
        // After orientation the breast (left) half is brighter than the right half.
        let left = 0;
        let right = 0;
        for (let y = 0; y < 320; y++) {
          for (let x = 0; x < 256; x++) {
            const v = input.tensor[y * 256 + x] as number;
            if (x < 128) left += v;
            else right += v;
          }
        }
        assert.ok(left > right);
        // The tensor is the presentation image, resized: compare with a plain box average of it.
        const presentation = toPresentation(decodeFrame(parsed, attrs, 0).pixels, attrs);
        const step = 1 / input.scale;
        let diff = 0;
        let samples = 0;
        for (let ty = 10; ty < Math.floor(attrs.rows * input.scale) - 10; ty += 7) {
          for (let tx = 10; tx < Math.floor(attrs.columns * input.scale) - 10; tx += 7) {
            let sum = 0;
            let count = 0;
            for (let sy = Math.floor(ty * step); sy < Math.floor((ty + 1) * step); sy++) {
              for (let sx = Math.floor(tx * step); sx < Math.floor((tx + 1) * step); sx++) {
                const x = input.mirrored ? attrs.columns - 1 - sx : sx;
                sum += presentation[sy * attrs.columns + x] as number;
                count++;
              }
            }
            diff += Math.abs((input.tensor[ty * 256 + tx] as number) - sum / count);
            samples++;
          }
        }
        assert.ok(diff / samples < 0.03, `tensor differs from the presentation image by ${diff / samples} on average`);
        const again = await preprocess(decodeFrame(parsed, attrs, 0).pixels, attrs, spec);
        assert.deepEqual(again.tensor, input.tensor, 'deterministic');
        for (const f of image.findings) {
          const x = (input.mirrored ? 1 - f.x : f.x) * image.columns * input.scale;
          const y = f.y * image.rows * input.scale;
          assert.ok(x > 0 && x < 256 && y > 0 && y < 320, 'finding maps inside the tensor');
          checkedFinding = true;
        }
      }
      assert.ok(checkedFinding, 'the cohort had findings to check');
    } finally {
      dir.remove();
    }
  });

test('box downsample: block means, partial blocks at the right and bottom edges average what they have', () => {
  // 5 columns × 3 rows, k = 2 → 3 × 2 blocks.
  const pixels = Uint16Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
  const out = boxDownsample(pixels, 3, 5, 2);
  assert.equal(out.columns, 3);
  assert.equal(out.rows, 2);
  assert.deepEqual(Array.from(out.pixels), [
    (1 + 2 + 6 + 7) / 4,
    (3 + 4 + 8 + 9) / 4,
    (5 + 10) / 2,
    (11 + 12) / 2,
    (13 + 14) / 2,
    15,
  ]);
  // Signed stored values average as numbers.
  assert.deepEqual(Array.from(boxDownsample(Int16Array.from([-4, 2, 0, 6]), 2, 2, 2).pixels), [1]);
});

test('a preprocessing failure in the decode task is reported as VIGIL_PREPROCESS_FAILED, not as a decode failure', async () => {
  const dir = makeTempDir('preprocess-fail');
  try {
    const truth = await generatePhantoms({ out: dir.path, patients: 1, visits: 1, seed: 22, rows: 256, columns: 208 });
    const image = truth.patients[0]?.visits[0]?.images[0];
    assert.ok(image);
    // An input size the resizer refuses (a corrupted spec): the image itself decodes fine.
    const result = await runDecodeTask({
      path: join(dir.path, image.file),
      frameIndex: 0,
      preprocess: { width: Number.NaN, height: 320, boxDownsample: true },
    });
    assert.equal(result.ok, false);
    assert.ok(!result.ok);
    assert.equal(result.error.code, 'VIGIL_PREPROCESS_FAILED');
    assert.match(result.error.message, /^preprocessing 208×256 into NaN×320 failed: /);
    assert.ok(result.sopInstanceUid, 'the instance is still identified for the quarantine record');
  } finally {
    dir.remove();
  }
});

test('tissue fraction: a phantom mammogram shows tissue, a blank or uniform exposure none', async () => {
  await initCodecs();
  const dir = makeTempDir('tissue');
  try {
    const truth = await generatePhantoms({ out: dir.path, patients: 1, visits: 1, seed: 22, rows: 1024, columns: 832 });
    const spec = { width: 256, height: 320, boxDownsample: true };
    for (const image of truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images))) {
      const parsed = parseDicom(readFileSync(join(dir.path, image.file)));
      const attrs = readImageAttributes(parsed.dataSet);
      const input = await preprocess(decodeFrame(parsed, attrs, 0).pixels, attrs, spec);
      assert.ok(input.tissueFraction > 0.2, `${image.file}: ${input.tissueFraction}`);
      for (const level of [0, 1000, 16383]) {
        const blank = new Uint16Array(attrs.rows * attrs.columns).fill(level);
        const flat = await preprocess(blank, attrs, spec);
        assert.equal(flat.tissueFraction, 0, `uniform ${level}`);
      }
    }
  } finally {
    dir.remove();
  }
});
