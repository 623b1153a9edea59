import { createRequire } from 'node:module';
import { VigilError } from '@vigil/shared';

const require = createRequire(import.meta.url);

interface CharlsDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  decode(): void;
  getFrameInfo(): { width: number; height: number; bitsPerSample: number; componentCount: number };
  getInterleaveMode(): number;
  getDecodedBuffer(): Uint8Array;
  delete(): void;
}
interface CharlsModule {
  JpegLSDecoder: new () => CharlsDecoder;
}

let charls: Promise<CharlsModule> | undefined;

/**
 * JPEG-LS through @cornerstonejs/codec-charls (CharLS compiled to WASM): about twice as fast as the
 * general dcmjs-codecs build for JPEG-LS (docs/measurements.md), and exact.
 */
export function initCharls(): Promise<CharlsModule> {
  charls ??= (async () => {
    const factory = require('@cornerstonejs/codec-charls/decodewasmjs') as (options: object) => Promise<CharlsModule>;
    const wasm = require.resolve('@cornerstonejs/codec-charls/decodewasm');
    return factory({ locateFile: () => wasm });
  })();
  return charls;
}

let ready: CharlsModule | undefined;

export async function ensureCharls(): Promise<void> {
  ready = await initCharls();
}

/** Decodes a JPEG-LS bitstream; samples come back little-endian, interleaved by pixel. */
export function decodeJpegLs(bitstream: Uint8Array): { bytes: Uint8Array; interleaved: boolean } {
  if (!ready) throw new VigilError('VIGIL_INTERNAL', 'CharLS not initialised');
  const decoder = new ready.JpegLSDecoder();
  try {
    decoder.getEncodedBuffer(bitstream.length).set(bitstream);
    decoder.decode();
    const info = decoder.getFrameInfo();
    // Interleave mode 0 ("none") keeps components in separate scans, i.e. planar.
    return {
      bytes: new Uint8Array(decoder.getDecodedBuffer()),
      interleaved: info.componentCount === 1 || decoder.getInterleaveMode() !== 0,
    };
  } catch (error) {
    throw new VigilError('VIGIL_DICOM_DECODE_FAILED', `JPEG-LS decoder failed: ${String((error as Error)?.message ?? error)}`);
  } finally {
    decoder.delete();
  }
}
