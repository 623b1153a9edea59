import { spawnSync } from 'node:child_process';
import { accessSync, constants, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, isAbsolute, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import type { CodecOutput, EncodedFrame } from './codecs.js';

/**
 * OpenJPEG's own decompressor, `opj_decompress` (Debian `libopenjp2-tools`), for JPEG 2000 frames.
 * It is the same OpenJPEG as the WebAssembly build, compiled natively and decoding code-blocks on
 * several threads: on a 2-core box it decodes a 4096×3328 lossless mammogram in about half the
 * WebAssembly decoder's time, as fast as gdcmconv (`npm run bench -- decode`). There is no
 * maintained Node binding of libopenjp2, hence the tool, run per frame. Pixels pass through files in
 * `/dev/shm` (memory, never the disk: the edge keeps images encrypted at rest), readable by this
 * user only, removed at once. Anything the tool does not decode to exactly the expected samples is
 * handed back to the WebAssembly decoder, which gives the coded error if it fails too.
 */
export type OpenJpegToolSetting = 'auto' | 'off' | string;

const SHM = '/dev/shm';
let setting: OpenJpegToolSetting = 'auto';
let resolved: string | null | undefined;
let counter = 0;

/** Frames this thread's tool decoded, and frames it handed back to WebAssembly (tests read them). */
export const openJpegToolStats = { decoded: 0, handedBack: 0 };

/** The tool decodes on every core: one large frame at a time is the case that matters (a prior). */
const threads = () => availableParallelism();

/** `auto` (the tool when installed), `off` (WebAssembly only) or the tool's path. Per thread. */
export function useOpenJpegTool(value: OpenJpegToolSetting): void {
  setting = value;
  resolved = undefined;
}

/** A file this user may execute, or a directory it may write into. */
function usable(path: string, kind: 'executable file' | 'writable directory'): boolean {
  try {
    accessSync(path, kind === 'executable file' ? constants.X_OK : constants.W_OK);
    const stat = statSync(path);
    return kind === 'executable file' ? stat.isFile() : stat.isDirectory();
  } catch {
    return false;
  }
}

/** The tool this thread will run, or null (not installed, turned off, or no /dev/shm). */
export function openJpegTool(): string | null {
  if (resolved !== undefined) return resolved;
  let found: string | null = null;
  if (setting !== 'off' && usable(SHM, 'writable directory')) {
    if (setting === 'auto') {
      for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
        const candidate = join(dir, 'opj_decompress');
        if (usable(candidate, 'executable file')) {
          found = candidate;
          break;
        }
      }
    } else if (isAbsolute(setting) && usable(setting, 'executable file')) found = setting;
  }
  resolved = found;
  return found;
}

/** What decodes JPEG 2000 in this thread, in words (`vigil-edge doctor`). */
export function jpeg2000DecoderName(): string {
  const tool = openJpegTool();
  return tool ? `${tool} (OpenJPEG, native, ${threads()} threads)` : 'WebAssembly (OpenJPEG)';
}

/** JP2 files start with a signature box; a raw codestream with SOC + SIZ. */
function extensionOf(bytes: Uint8Array): '.jp2' | '.j2k' | undefined {
  if (bytes[0] === 0xff && bytes[1] === 0x4f && bytes[2] === 0xff && bytes[3] === 0x51) return '.j2k';
  if (bytes[4] === 0x6a && bytes[5] === 0x50 && bytes[6] === 0x20 && bytes[7] === 0x20) return '.jp2';
  return undefined;
}

/** Why is said where it is called; the caller decodes the frame in WebAssembly instead. */
function handBack(): undefined {
  openJpegToolStats.handedBack += 1;
  return undefined;
}

/**
 * Decodes one single-sample JPEG 2000 frame with the tool; undefined when it is not available or
 * did not give exactly width × height samples (the caller then decodes it in WebAssembly).
 */
export function decodeJ2kWithTool(frame: EncodedFrame): CodecOutput | undefined {
  const tool = openJpegTool();
  if (!tool || frame.samplesPerPixel !== 1 || (frame.bitsAllocated !== 8 && frame.bitsAllocated !== 16)) return undefined;
  const extension = extensionOf(frame.bytes);
  if (!extension) return handBack(); // neither a JPEG 2000 codestream nor a JP2 file
  const base = join(SHM, `vigil-j2k-${process.pid}-${threadId}-${counter++}`);
  const input = `${base}${extension}`;
  const output = `${base}.rawl`;
  try {
    writeFileSync(input, frame.bytes, { mode: 0o600 });
    writeFileSync(output, '', { mode: 0o600 });
    const run = spawnSync(tool, ['-i', input, '-o', output, '-threads', String(threads()), '-quiet'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 120_000,
    });
    if (run.status !== 0) return handBack(); // the tool refused the stream or timed out
    const raw = readFileSync(output);
    const samples = frame.width * frame.height;
    const bytesPerSample = raw.byteLength / samples;
    let bytes: Uint8Array;
    if (bytesPerSample === frame.bitsAllocated / 8) bytes = new Uint8Array(raw.buffer, raw.byteOffset, raw.byteLength);
    else if (bytesPerSample === 1 && frame.bitsAllocated === 16) {
      // An 8-bit codestream in 16-bit cells: widen, keeping the sign.
      const wide = frame.pixelRepresentation === 1 ? new Int16Array(samples) : new Uint16Array(samples);
      const narrow = frame.pixelRepresentation === 1 ? new Int8Array(raw.buffer, raw.byteOffset, samples) : raw;
      for (let i = 0; i < samples; i++) wide[i] = narrow[i] as number;
      bytes = new Uint8Array(wide.buffer);
    } else return handBack(); // not width × height samples of a depth the frame can hold
    openJpegToolStats.decoded += 1;
    return { bytes, planarConfiguration: frame.planarConfiguration, photometric: frame.photometric };
  } catch {
    return handBack(); // /dev/shm full or unwritable: WebAssembly needs no files
  } finally {
    rmSync(input, { force: true });
    rmSync(output, { force: true });
  }
}
