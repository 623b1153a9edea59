import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { initCodecs } from '../src/imaging/codecs.js';
import { parseDicom } from '../src/imaging/dicom-file.js';
import { applyModalityLut, applyVoiLut, applyWindow, toPresentation, ybrFullToRgb } from '../src/imaging/display-transform.js';
import { readImageAttributes } from '../src/imaging/image-attributes.js';
import { decodeFrame } from '../src/imaging/pixel-data.js';

const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;

test('modality LUT applies slope and intercept', () => {
  assert.deepEqual([...applyModalityLut(new Int16Array([0, 10, -5]), 2, -1024)], [-1024, -1004, -1034]);
});

test('LINEAR window follows PS3.3 C.11.2.1.2.1 exactly', () => {
  const out = applyWindow(new Float32Array([-1, -0.5, 0, 49.5, 99.5, 100]), 50, 101);
  assert.equal(out[0], 0);
  assert.equal(out[1], 0);
  assert.ok(close(out[2] as number, (0 - 49.5) / 100 + 0.5));
  assert.ok(close(out[3] as number, 0.5));
  assert.ok(close(out[4] as number, (99.5 - 49.5) / 100 + 0.5));
  assert.equal(out[5], 1);
  const exact = applyWindow(new Float32Array([0, 50, 100, 120]), 50, 100, 'LINEAR_EXACT');
  assert.deepEqual([...exact], [0, 0.5, 1, 1]);
  const sigmoid = applyWindow(new Float32Array([50, -1e6, 1e6]), 50, 100, 'SIGMOID');
  assert.deepEqual(
    [...sigmoid].map((v) => Math.round(v * 1000) / 1000),
    [0.5, 0, 1],
  );
});

test('VOI LUT maps from its first mapped value and clamps outside the table', () => {
  const lut = { firstMapped: 10, bits: 16, data: new Uint16Array([0, 100, 200, 65535]) };
  const out = applyVoiLut(new Float32Array([9, 10, 12, 13, 500]), lut);
  assert.deepEqual(
    [...out].map((v) => Math.round(v * 65535)),
    [0, 0, 200, 65535, 65535],
  );
});

test('YBR_FULL converts to RGB (grey stays grey)', () => {
  const rgb = [...ybrFullToRgb(new Uint8Array([128, 128, 128, 76, 85, 255]))];
  assert.deepEqual(rgb.slice(0, 3), [128, 128, 128]);
  // Pure red is (76, 85, 255) in full-range YCbCr, within rounding.
  for (const [i, v] of [255, 0, 0].entries()) assert.ok(Math.abs((rgb[3 + i] as number) - v) <= 2, `channel ${i}: ${rgb[3 + i]}`);
});

test('a real file: window from the header is used; MONOCHROME1 is inverted', async () => {
  await initCodecs();
  const dir = makeTempDir('display');
  try {
    const base = join(dir.path, 'ct.dcm');
    copyFileSync('/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm', base);
    execFileSync('dcmodify', ['-nb', '-i', '(0028,1050)=40', '-i', '(0028,1051)=400', base]);
    const load = (file: string) => {
      const parsed = parseDicom(readFileSync(file));
      const attrs = readImageAttributes(parsed.dataSet);
      return { attrs, presentation: toPresentation(decodeFrame(parsed, attrs, 0).pixels, attrs) };
    };
    const mono2 = load(base);
    assert.equal(mono2.attrs.windowCenter, 40);
    assert.equal(mono2.attrs.windowWidth, 400);
    const hu = applyModalityLut(
      decodeFrame(parseDicom(readFileSync(base)), mono2.attrs, 0).pixels,
      mono2.attrs.rescaleSlope,
      mono2.attrs.rescaleIntercept,
    );
    const expected = applyWindow(hu, 40, 400);
    assert.deepEqual(mono2.presentation, expected);
    const inverted = join(dir.path, 'ct-mono1.dcm');
    copyFileSync(base, inverted);
    execFileSync('dcmodify', ['-nb', '-m', '(0028,0004)=MONOCHROME1', inverted]);
    const mono1 = load(inverted);
    for (let i = 0; i < mono1.presentation.length; i += 97) {
      assert.ok(close((mono1.presentation[i] as number) + (mono2.presentation[i] as number), 1));
    }
  } finally {
    dir.remove();
  }
});
