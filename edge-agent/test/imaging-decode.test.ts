import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { initCodecs } from '../src/imaging/codecs.js';
import { parseDicom } from '../src/imaging/dicom-file.js';
import { readImageAttributes } from '../src/imaging/image-attributes.js';
import { openJpegTool, openJpegToolStats, useOpenJpegTool } from '../src/imaging/openjpeg-tool.js';
import { type DecodedFrame, decodeFrame } from '../src/imaging/pixel-data.js';

const PYDICOM = '/usr/lib/python3/dist-packages/pydicom/data/test_files';
const PY = join(import.meta.dirname, '../../scripts/python');
const dir = makeTempDir('decode');

function decode(file: string): DecodedFrame & { transferSyntaxUid: string } {
  const parsed = parseDicom(readFileSync(file));
  return { ...decodeFrame(parsed, readImageAttributes(parsed.dataSet), 0), transferSyntaxUid: parsed.transferSyntax.uid };
}

function digest(pixels: ArrayBufferView): string {
  return createHash('sha256')
    .update(new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength))
    .digest('hex');
}

/** Rewrites (0002,0010) in the file meta (explicit VR LE, PS3.10 §7.1) and fixes the group length. */
function relabelTransferSyntax(file: Buffer, uid: string): Buffer {
  const tag = Buffer.from([0x02, 0x00, 0x10, 0x00, 0x55, 0x49]);
  const at = file.indexOf(tag, 132);
  const oldLength = file.readUInt16LE(at + 6);
  const value = Buffer.from(uid.length % 2 ? `${uid}\0` : uid, 'latin1');
  const header = Buffer.alloc(8);
  tag.copy(header);
  header.writeUInt16LE(value.length, 6);
  const out = Buffer.concat([file.subarray(0, at), header, value, file.subarray(at + 8 + oldLength)]);
  out.writeUInt32LE(out.readUInt32LE(140) + value.length - oldLength, 140);
  return out;
}

function run(cmd: string, args: string[]): void {
  execFileSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/** The first source as JPEG 2000, its codestream's header markers after SOC overwritten. */
function corruptJ2k(name: string): string {
  const j2k = join(dir.path, name);
  run('gdcmconv', ['--j2k', (sources[0] as Source).file, j2k]);
  const bytes = readFileSync(j2k);
  const soc = bytes.indexOf(Buffer.from([0xff, 0x4f, 0xff, 0x51]));
  bytes.fill(0x00, soc + 2, soc + 60);
  writeFileSync(j2k, bytes);
  return j2k;
}

interface Source {
  name: string;
  file: string;
  bits: number;
  signed: boolean;
}
const sources: Source[] = [];

before(async () => {
  await initCodecs();
  const make = (name: string, rows: number, cols: number, bits: number, signed: boolean, modality: string) => {
    const file = join(dir.path, `${name}.dcm`);
    run('/usr/bin/python3', [
      join(PY, 'make_test_image.py'),
      file,
      String(rows),
      String(cols),
      String(bits),
      signed ? '1' : '0',
      modality,
    ]);
    sources.push({ name, file, bits, signed });
  };
  make('mg-14bit', 256, 320, 14, false, 'MG');
  make('mg-12bit', 200, 240, 12, false, 'MG');
  make('ct-16bit-signed', 128, 160, 16, true, 'CT');
  make('grey-8bit', 120, 96, 8, false, 'OT');
  sources.push({ name: 'pydicom MR_small', file: join(PYDICOM, 'MR_small.dcm'), bits: 16, signed: true });
  sources.push({ name: 'pydicom CT_small', file: join(PYDICOM, 'CT_small.dcm'), bits: 16, signed: true });
});
after(() => dir.remove());

describe('native decoding matches pydicom (an independent implementation) bit for bit', () => {
  test('explicit LE sources', () => {
    for (const s of sources) {
      const reference = JSON.parse(
        execFileSync('/usr/bin/python3', [join(PY, 'pixel_digest.py'), s.file], { encoding: 'utf8' }),
      ) as {
        sha256: string;
        min: number;
        max: number;
      };
      const ours = decode(s.file);
      assert.equal(digest(ours.pixels), reference.sha256, s.name);
    }
  });
  test('pydicom corpus: big endian, implicit, deflated, multi-frame 32-bit', () => {
    for (const name of [
      'MR_small_bigendian.dcm',
      'MR_small_implicit.dcm',
      'MR_small_expb.dcm',
      'image_dfl.dcm',
      'rtdose.dcm',
      'rtdose_expb.dcm',
      'ExplVR_BigEnd.dcm',
    ]) {
      const file = join(PYDICOM, name);
      const reference = JSON.parse(
        execFileSync('/usr/bin/python3', [join(PY, 'pixel_digest.py'), file], { encoding: 'utf8' }),
      ) as { sha256: string };
      assert.equal(digest(decode(file).pixels), reference.sha256, name);
    }
  });
});

interface Transcode {
  syntax: string;
  uid: string;
  tool: string;
  args: string[];
  /** Max absolute error allowed against the original; 0 = lossless. */
  tolerance: (bits: number) => number;
  /** Mean absolute error allowed; defaults to a quarter of the max. */
  meanTolerance?: number;
  applies: (s: Source) => boolean;
}

const lossless = () => 0;
const TRANSCODES: Transcode[] = [
  {
    syntax: 'implicit VR LE',
    uid: '1.2.840.10008.1.2',
    tool: 'dcmconv',
    args: ['+ti'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'explicit VR BE',
    uid: '1.2.840.10008.1.2.2',
    tool: 'dcmconv',
    args: ['+tb'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'deflated explicit LE',
    uid: '1.2.840.10008.1.2.1.99',
    tool: 'dcmconv',
    args: ['+td'],
    tolerance: lossless,
    applies: () => true,
  },
  { syntax: 'RLE lossless', uid: '1.2.840.10008.1.2.5', tool: 'dcmcrle', args: [], tolerance: lossless, applies: () => true },
  {
    syntax: 'JPEG lossless SV1',
    uid: '1.2.840.10008.1.2.4.70',
    tool: 'dcmcjpeg',
    args: ['+e1'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'JPEG lossless process 14 (SV 6)',
    uid: '1.2.840.10008.1.2.4.57',
    tool: 'dcmcjpeg',
    args: ['+el', '+sv', '6'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'JPEG-LS lossless',
    uid: '1.2.840.10008.1.2.4.80',
    tool: 'dcmcjpls',
    args: ['+el'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'JPEG-LS near-lossless (NEAR 2)',
    uid: '1.2.840.10008.1.2.4.81',
    tool: 'dcmcjpls',
    args: ['+en'],
    tolerance: () => 2,
    meanTolerance: 2,
    applies: (s) => !s.signed,
  },
  {
    syntax: 'JPEG 2000 lossless',
    uid: '1.2.840.10008.1.2.4.90',
    tool: 'gdcmconv',
    args: ['--j2k'],
    tolerance: lossless,
    applies: () => true,
  },
  {
    syntax: 'JPEG 2000 lossy',
    uid: '1.2.840.10008.1.2.4.91',
    tool: 'gdcmconv',
    args: ['--j2k', '--lossy', '-q', '70'],
    tolerance: (bits) => 0.08 * 2 ** bits,
    applies: (s) => !s.signed,
  },
  {
    syntax: 'JPEG baseline 8-bit',
    uid: '1.2.840.10008.1.2.4.50',
    tool: 'dcmcjpeg',
    args: ['+eb'],
    tolerance: (bits) => 0.08 * 2 ** bits,
    applies: (s) => s.bits === 8,
  },
  {
    syntax: 'JPEG extended 12-bit',
    uid: '1.2.840.10008.1.2.4.51',
    tool: 'dcmcjpeg',
    args: ['+ee'],
    tolerance: (bits) => 0.08 * 2 ** bits,
    applies: (s) => s.bits <= 12 && !s.signed,
  },
];

describe('compressed syntaxes transcoded by dcmtk / gdcm decode exactly (lossless) or within tolerance (lossy)', () => {
  for (const t of TRANSCODES) {
    test(t.syntax, () => {
      let checked = 0;
      for (const s of sources.filter(t.applies)) {
        const out = join(dir.path, `${s.name.replace(/\W+/g, '_')}-${t.uid}.dcm`);
        run(t.tool, t.tool === 'gdcmconv' ? [...t.args, s.file, out] : [...t.args, s.file, out]);
        const original = decode(s.file);
        const decoded = decode(out);
        assert.equal(decoded.transferSyntaxUid, t.uid, `${s.name}: transcoder produced ${t.uid}`);
        assert.equal(decoded.pixels.length, original.pixels.length, s.name);
        let maxError = 0;
        let sumError = 0;
        for (let i = 0; i < original.pixels.length; i++) {
          const e = Math.abs((decoded.pixels[i] as number) - (original.pixels[i] as number));
          if (e > maxError) maxError = e;
          sumError += e;
        }
        const limit = t.tolerance(s.bits);
        assert.ok(maxError <= limit, `${s.name}: max error ${maxError} > ${limit}`);
        const meanLimit = t.meanTolerance ?? limit / 4;
        if (limit > 0)
          assert.ok(
            sumError / original.pixels.length <= meanLimit,
            `${s.name}: mean error ${sumError / original.pixels.length} > ${meanLimit}`,
          );
        checked += 1;
      }
      assert.ok(checked > 0);
    });
  }
});

describe("JPEG 2000 through OpenJPEG's native tool (imaging.jpeg2000Tool) and through WebAssembly", () => {
  after(() => useOpenJpegTool('auto'));
  const both = (file: string) => {
    useOpenJpegTool('off');
    const wasm = decode(file);
    useOpenJpegTool('auto');
    const before = openJpegToolStats.decoded;
    const native = decode(file);
    assert.equal(openJpegToolStats.decoded, before + 1, `${file}: decoded by the tool`);
    return { wasm, native };
  };
  test('auto finds opj_decompress (libopenjp2-tools); off and a path that is not the tool keep WebAssembly', () => {
    useOpenJpegTool('auto');
    assert.match(openJpegTool() ?? '', /\/opj_decompress$/);
    useOpenJpegTool('off');
    assert.equal(openJpegTool(), null);
    useOpenJpegTool(join(dir.path, 'no-such-tool'));
    assert.equal(openJpegTool(), null);
  });
  test('the same samples from both, lossless and lossy, every bit depth and sign', () => {
    let checked = 0;
    for (const s of sources)
      for (const args of [['--j2k'], ['--j2k', '--lossy', '-q', '70']]) {
        if (args.length > 1 && s.signed) continue;
        const out = join(dir.path, `${s.name.replace(/\W+/g, '_')}-tool-${args.length}.dcm`);
        run('gdcmconv', [...args, s.file, out]);
        const { wasm, native } = both(out);
        assert.equal(native.pixels.constructor, wasm.pixels.constructor, s.name);
        assert.equal(digest(native.pixels), digest(wasm.pixels), `${s.name} ${args.join(' ')}`);
        checked += 1;
      }
    assert.ok(checked >= 8);
  });
  test('a corrupt codestream is handed back to WebAssembly, which refuses it with its code; nothing is left in /dev/shm', () => {
    const j2k = corruptJ2k('corrupt-j2k-tool.dcm');
    useOpenJpegTool('auto');
    const handedBack = openJpegToolStats.handedBack;
    assert.throws(() => decode(j2k), { code: 'VIGIL_DICOM_DECODE_FAILED' });
    assert.equal(openJpegToolStats.handedBack, handedBack + 1);
    assert.deepEqual(
      readdirSync('/dev/shm').filter((f) => f.startsWith(`vigil-j2k-${process.pid}-`)),
      [],
    );
  });
});

describe('bad input yields the right error code', () => {
  test('truncated files', () => {
    const source = sources[0] as Source;
    for (const [tool, args] of [
      ['dcmcjpls', ['+el']],
      ['dcmconv', ['+te']],
    ] as const) {
      const full = join(dir.path, `trunc-src-${tool}.dcm`);
      run(tool, [...args, source.file, full]);
      const bytes = readFileSync(full);
      const cut = join(dir.path, `trunc-${tool}.dcm`);
      writeFileSync(cut, bytes.subarray(0, bytes.length - 2000));
      assert.throws(() => decode(cut), { code: 'VIGIL_DICOM_TRUNCATED' }, tool);
      writeFileSync(cut, bytes.subarray(0, 300));
      assert.throws(
        () => decode(cut),
        (e: Error & { code?: string }) => ['VIGIL_DICOM_TRUNCATED', 'VIGIL_DICOM_NO_PIXEL_DATA'].includes(e.code ?? ''),
        tool,
      );
    }
    assert.throws(() => decode(join(PYDICOM, 'MR_truncated.dcm')), { code: 'VIGIL_DICOM_TRUNCATED' });
  });
  test('not DICOM, no pixel data, unsupported syntax, unsupported layout, corrupt bitstream', () => {
    const text = join(dir.path, 'notes.txt');
    writeFileSync(text, 'this is not a DICOM file, just some text that is long enough to have 132 bytes '.repeat(4));
    assert.throws(() => decode(text), { code: 'VIGIL_DICOM_NOT_DICOM' });
    assert.throws(() => decode(join(PYDICOM, 'rtplan.dcm')), { code: 'VIGIL_DICOM_NO_PIXEL_DATA' });
    assert.throws(() => decode(join(PYDICOM, 'liver_1frame.dcm')), { code: 'VIGIL_DICOM_UNSUPPORTED_IMAGE' });
    const xl = join(dir.path, 'jpegxl.dcm');
    writeFileSync(xl, relabelTransferSyntax(readFileSync((sources[0] as Source).file), '1.2.840.10008.1.2.4.100'));
    assert.throws(() => decode(xl), { code: 'VIGIL_DICOM_UNSUPPORTED_SYNTAX' });
    const j2k = corruptJ2k('corrupt-j2k.dcm');
    assert.throws(() => decode(j2k), { code: 'VIGIL_DICOM_DECODE_FAILED' });
  });
});
