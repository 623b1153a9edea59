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
import { runDecodeTask, transferablePixels } from '../src/pipeline/decode-task.js';

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

test('box downsample equals block-by-block means for every stored type, size and factor', () => {
  // The definition, block by block: the band-wise sums must give exactly these float32 values, or
  // tensors made before and after would differ.
  const reference = (pixels: ArrayLike<number>, rows: number, columns: number, k: number) => {
    const out: number[] = [];
    for (let by = 0; by < rows; by += k)
      for (let bx = 0; bx < columns; bx += k) {
        let sum = 0;
        let n = 0;
        for (let y = by; y < Math.min(rows, by + k); y++)
          for (let x = bx; x < Math.min(columns, bx + k); x++) {
            sum += pixels[y * columns + x] as number;
            n += 1;
          }
        out.push(Math.fround(sum / n));
      }
    return out;
  };
  let seed = 7;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (const Type of [Uint8Array, Int8Array, Uint16Array, Int16Array, Uint32Array, Int32Array]) {
    const bits = Type.BYTES_PER_ELEMENT * 8;
    const low = Type.name.startsWith('Int') ? -(2 ** (bits - 1)) : 0;
    for (const [rows, columns, k] of [
      [1, 1, 1],
      [7, 3, 5],
      [23, 41, 5],
      [40, 33, 4],
      [17, 64, 9],
    ] as const) {
      const pixels = new Type(rows * columns);
      for (let i = 0; i < pixels.length; i++) pixels[i] = low + Math.floor(random() * 2 ** bits);
      const out = boxDownsample(pixels, rows, columns, k);
      assert.deepEqual(Array.from(out.pixels), reference(pixels, rows, columns, k), `${Type.name} ${rows}×${columns} k ${k}`);
    }
  }
});

test('decoded pixels go to the main thread without a copy when the file buffer is theirs alone', async () => {
  const dir = makeTempDir('transferable');
  try {
    const truth = await generatePhantoms({ out: dir.path, patients: 1, visits: 1, seed: 23, rows: 1024, columns: 832 });
    const image = truth.patients[0]?.visits[0]?.images[0];
    assert.ok(image);
    const path = join(dir.path, image.file);
    const result = await runDecodeTask({ path, frameIndex: 0 });
    assert.ok(result.ok);
    // The same stored values as a fresh decode…
    await initCodecs();
    const parsed = parseDicom(readFileSync(path));
    const expected = decodeFrame(parsed, readImageAttributes(parsed.dataSet), 0).pixels;
    assert.deepEqual(result.pixels, expected);
    // …in the buffer the file was read into (header bytes before them), not a second 1.7 MB copy.
    assert.ok(result.pixels.byteOffset > 0, 'a view into the file buffer');
    assert.equal(result.pixels.buffer.byteLength, readFileSync(path).byteLength);

    const file = Buffer.alloc(1000);
    const frame = new Uint16Array(file.buffer, 200, 400);
    assert.equal(transferablePixels(frame, file), frame, 'the frame is most of a buffer the file owns');
    const copied = transferablePixels(new Uint16Array(file.buffer, 200, 100), file);
    assert.notEqual(copied.buffer, file.buffer, 'one frame of many: copied, the other frames not kept alive');
    // A small file read into Node's shared pool: never moved (it would detach other buffers' bytes).
    const pooled = Buffer.from('x'.repeat(64));
    assert.ok(pooled.buffer.byteLength > pooled.byteLength, 'a slice of the pool');
    const view = new Uint8Array(pooled.buffer, pooled.byteOffset, 64);
    assert.notEqual(transferablePixels(view, pooled).buffer, pooled.buffer);
    // A codec's output owns its buffer already.
    const own = new Uint16Array(16);
    assert.equal(transferablePixels(own, file), own);
  } finally {
    dir.remove();
  }
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
