import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  DecodePool,
  decodeFrame,
  initCodecs,
  jpeg2000DecoderName,
  parseDicom,
  readImageAttributes,
  useOpenJpegTool,
} from '@vigil/edge-agent';
import { makeTempDir } from '../harness/temp-dir.js';
import { progress, round } from './stats.js';

const ROWS = Number(process.env.BENCH_DECODE_ROWS ?? 4096);
const COLS = Number(process.env.BENCH_DECODE_COLS ?? 3328);
const PY = join(import.meta.dirname, '../python');

interface Case {
  syntax: string;
  source: '14' | '12';
  encode: [string, string[]] | undefined;
  /** dcmtk (or gdcm for JPEG 2000) decompressing the same file to native. */
  reference: [string, string[]];
}

const CASES: Case[] = [
  { syntax: 'explicit VR LE (native)', source: '14', encode: undefined, reference: ['dcmconv', ['+te']] },
  { syntax: 'explicit VR BE', source: '14', encode: ['dcmconv', ['+tb']], reference: ['dcmconv', ['+te']] },
  { syntax: 'deflated', source: '14', encode: ['dcmconv', ['+td']], reference: ['dcmconv', ['+te']] },
  { syntax: 'RLE lossless', source: '14', encode: ['dcmcrle', []], reference: ['dcmdrle', []] },
  { syntax: 'JPEG lossless SV1', source: '14', encode: ['dcmcjpeg', ['+e1']], reference: ['dcmdjpeg', []] },
  { syntax: 'JPEG extended 12-bit', source: '12', encode: ['dcmcjpeg', ['+ee']], reference: ['dcmdjpeg', []] },
  { syntax: 'JPEG-LS lossless', source: '14', encode: ['dcmcjpls', ['+el']], reference: ['dcmdjpls', []] },
  { syntax: 'JPEG-LS near-lossless', source: '14', encode: ['dcmcjpls', ['+en']], reference: ['dcmdjpls', []] },
  { syntax: 'JPEG 2000 lossless', source: '14', encode: ['gdcmconv', ['--j2k']], reference: ['gdcmconv', ['--raw']] },
];

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

function oursOnce(file: string): number {
  const started = performance.now();
  const parsed = parseDicom(readFileSync(file));
  decodeFrame(parsed, readImageAttributes(parsed.dataSet), 0);
  return performance.now() - started;
}

function referenceOnce(tool: string, args: string[], file: string, out: string): number {
  const started = performance.now();
  execFileSync(tool, [...args, file, out], { stdio: 'ignore' });
  return performance.now() - started;
}

/**
 * JPEG 2000: which decoder `ours` used (imaging.jpeg2000Tool: auto), and the WebAssembly decoder
 * alone in the same run (the figure before OpenJPEG's native tool), each against gdcmconv.
 */
function jpeg2000Decoders(file: string, reference: number): Record<string, unknown> {
  const decoder = jpeg2000DecoderName();
  useOpenJpegTool('off');
  try {
    oursOnce(file);
    const wasm = median(Array.from({ length: 3 }, () => oursOnce(file)));
    return { decoder, webAssemblyMs: round(wasm, 1), webAssemblyRatioToDcmtk: round(reference / wasm, 2) };
  } finally {
    useOpenJpegTool('auto');
  }
}

export async function benchDecode(): Promise<Record<string, unknown>> {
  const dir = makeTempDir('bench-decode');
  try {
    await initCodecs();
    progress(`decode: generating ${COLS}×${ROWS} 14-bit and 12-bit mammography-sized sources`);
    const sources = { '14': join(dir.path, 'src14.dcm'), '12': join(dir.path, 'src12.dcm') };
    execFileSync('/usr/bin/python3', [
      join(PY, 'make_test_image.py'),
      sources['14'],
      String(ROWS),
      String(COLS),
      '14',
      '0',
      'MG',
    ]);
    execFileSync('/usr/bin/python3', [
      join(PY, 'make_test_image.py'),
      sources['12'],
      String(ROWS),
      String(COLS),
      '12',
      '0',
      'MG',
    ]);
    const pixelMB = (ROWS * COLS * 2) / 1e6;
    const rows: Record<string, unknown>[] = [];
    const pool = new DecodePool(2);
    await pool.warm();
    for (const c of CASES) {
      const file = c.encode ? join(dir.path, `${c.syntax.replace(/\W+/g, '_')}.dcm`) : sources[c.source];
      if (c.encode) execFileSync(c.encode[0], [...c.encode[1], sources[c.source], file], { stdio: 'ignore' });
      progress(`decode: ${c.syntax}`);
      oursOnce(file); // warm-up (WASM heap growth, JIT)
      const ours = median(Array.from({ length: 5 }, () => oursOnce(file)));
      const out = join(dir.path, 'reference-out.dcm');
      const reference = median(Array.from({ length: 3 }, () => referenceOnce(c.reference[0], c.reference[1], file, out)));
      // Worker pool, two threads, eight images: the agent's real path (after a warm-up per thread).
      await Promise.all([pool.decode({ path: file, frameIndex: 0 }), pool.decode({ path: file, frameIndex: 0 })]);
      const poolStarted = performance.now();
      await Promise.all(Array.from({ length: 8 }, () => pool.decode({ path: file, frameIndex: 0 })));
      const poolMs = (performance.now() - poolStarted) / 8;
      rows.push({
        syntax: c.syntax,
        fileMB: round(statSync(file).size / 1e6),
        oursMs: round(ours, 1),
        oursMBps: round(pixelMB / (ours / 1000), 1),
        oursImagesPerS: round(1000 / ours, 2),
        dcmtkTool: c.reference[0],
        dcmtkMs: round(reference, 1),
        dcmtkMBps: round(pixelMB / (reference / 1000), 1),
        ratioToDcmtk: round(reference / ours, 2),
        pool2ThreadsImagesPerS: round(1000 / poolMs, 2),
        ...(c.syntax.startsWith('JPEG 2000') ? jpeg2000Decoders(file, reference) : {}),
      });
    }
    await pool.close();
    return {
      bench: 'decode',
      image: `${COLS}x${ROWS}`,
      pixelMB: round(pixelMB),
      note: 'ours = read + parse + decode frame 1 in-process, median of 5 warm runs; dcmtk = whole process decompressing the same file, median of 3 (includes start-up and writing the output); ratioToDcmtk > 1 means faster than dcmtk',
      results: rows,
    };
  } finally {
    dir.remove();
  }
}
