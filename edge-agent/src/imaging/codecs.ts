import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { VigilError } from '@vigil/shared';
import dcmjsCodecs from 'dcmjs-codecs';

// The package is a CommonJS/UMD bundle: named ESM imports do not resolve.
const { Context, NativeCodecs } = dcmjsCodecs;
type Context = InstanceType<typeof Context>;

import { decodeJpegLs, ensureCharls } from './charls-codec.js';
import { decodeJ2kWithTool } from './openjpeg-tool.js';
import type { Codec } from './transfer-syntax.js';

const require = createRequire(import.meta.url);
let ready: Promise<void> | undefined;

/**
 * dcmjs-codecs' WebAssembly build (IJG libjpeg 8/12/16-bit, CharLS, OpenJPEG, OpenJPH) decodes
 * every compressed syntax exactly (docs/measurements.md). Initialised once per thread from the .wasm file
 * that ships inside the package.
 */
export function initCodecs(): Promise<void> {
  ready ??= Promise.all([
    NativeCodecs.initializeAsync({
      webAssemblyModulePathOrUrl: join(dirname(require.resolve('dcmjs-codecs')), 'dcmjs-native-codecs.wasm'),
      logCodecsInfo: false,
      logCodecsTrace: false,
    }),
    ensureCharls(),
  ]).then(() => undefined);
  return ready;
}

export interface EncodedFrame {
  codec: Exclude<Codec, 'native'>;
  bytes: Uint8Array;
  width: number;
  height: number;
  bitsAllocated: number;
  bitsStored: number;
  samplesPerPixel: number;
  pixelRepresentation: number;
  planarConfiguration: number;
  photometric: string;
}

export interface CodecOutput {
  /** Little-endian sample bytes. */
  bytes: Uint8Array;
  planarConfiguration: number;
  photometric: string;
}

/** Decodes one compressed frame. Synchronous (WASM): call it from a worker, not the event loop. */
export function decodeCompressedFrame(frame: EncodedFrame): CodecOutput {
  if (frame.codec === 'jpegls') {
    const out = decodeJpegLs(frame.bytes);
    const expected = frame.width * frame.height * frame.samplesPerPixel * (frame.bitsAllocated / 8);
    if (out.bytes.byteLength < expected) {
      throw new VigilError(
        'VIGIL_DICOM_DECODE_FAILED',
        `JPEG-LS decoder returned ${out.bytes.byteLength} bytes, expected ${expected}`,
      );
    }
    return {
      bytes: out.bytes.subarray(0, expected),
      planarConfiguration: out.interleaved ? 0 : 1,
      photometric: frame.photometric,
    };
  }
  // JPEG 2000: OpenJPEG's native, multi-threaded tool where installed (openjpeg-tool.ts).
  if (frame.codec === 'j2k') {
    const native = decodeJ2kWithTool(frame);
    if (native) return native;
  }
  const context = new Context({
    width: frame.width,
    height: frame.height,
    bitsAllocated: frame.bitsAllocated,
    bitsStored: frame.bitsStored,
    samplesPerPixel: frame.samplesPerPixel,
    pixelRepresentation: frame.pixelRepresentation,
    planarConfiguration: frame.planarConfiguration,
    photometricInterpretation: frame.photometric,
    encodedBuffer: frame.bytes,
  });
  let decoded: Context;
  try {
    switch (frame.codec) {
      case 'rle':
        decoded = NativeCodecs.decodeRle(context);
        break;
      case 'jpeg':
        decoded = NativeCodecs.decodeJpeg(context, { convertColorspaceToRgb: true });
        break;
      case 'j2k':
        decoded = NativeCodecs.decodeJpeg2000(context);
        break;
      case 'htj2k':
        decoded = NativeCodecs.decodeHtJpeg2000(context);
        break;
    }
  } catch (error) {
    throw new VigilError(
      'VIGIL_DICOM_DECODE_FAILED',
      `${frame.codec} decoder failed: ${String((error as Error)?.message ?? error)}`,
    );
  }
  const bytes = decoded.getDecodedBuffer();
  const expected = frame.width * frame.height * frame.samplesPerPixel * (frame.bitsAllocated / 8);
  if (!bytes || bytes.byteLength < expected) {
    throw new VigilError(
      'VIGIL_DICOM_DECODE_FAILED',
      `${frame.codec} decoder returned ${bytes?.byteLength ?? 0} bytes, expected ${expected}`,
    );
  }
  return {
    bytes: bytes.subarray(0, expected),
    planarConfiguration: decoded.getPlanarConfiguration() ?? frame.planarConfiguration,
    photometric: decoded.getPhotometricInterpretation() ?? frame.photometric,
  };
}
