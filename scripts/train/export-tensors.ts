import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { type Acquisition, drawDisc, type InputSpec, modelInputFromFile, toInputPixels } from '@vigil/edge-agent';
import { readTruth } from '../phantoms/generate-phantoms.js';

/** The model input (with its manifest preprocessing flags, see the edge's preprocess.ts) and output stride. */
export interface TensorSpec extends InputSpec {
  /** Output map stride relative to the input (the network downsamples by this factor). */
  stride: number;
}

/** A point of interest in model-input pixels, for sampling training crops. */
export interface CropCentre {
  x: number;
  y: number;
  kind: 'finding' | 'lookalike';
  /** The finding's type (findings only). */
  type?: string;
  /** The finding's radius in model-input pixels (findings only). */
  radius?: number;
}

export interface ExportedSet {
  count: number;
  width: number;
  height: number;
  images: {
    file: string;
    patientId: string;
    positive: boolean;
    findings: number;
    centres: CropCentre[];
    /** A real dataset's image (film or digital); absent for phantoms. */
    acquisition?: Acquisition;
  }[];
}

/** The cache key of an image's model input: its file's bytes and the input spec. */
function cacheKey(file: string, spec: InputSpec): string {
  return createHash('sha256')
    .update(
      JSON.stringify([
        createHash('sha256').update(readFileSync(file)).digest('hex'),
        spec.width,
        spec.height,
        spec.boxDownsample,
        spec.breastMask,
        spec.pectoralMask,
        ...(spec.film ? [spec.film] : []),
      ]),
    )
    .digest('hex');
}

/**
 * An image's model input as u16, from `cacheDir` when a file with the same bytes was preprocessed with
 * the same spec before: cross-validation trains several models (folds, and stages of a recipe, each in
 * its own directory) on mostly the same images, and decoding + preprocessing them is a large part of
 * each run. Keyed by content, not by path: the same phantoms reached through each run's own directory
 * (a link) are one entry. Hashing a file costs about 1 % of preprocessing it.
 */
async function cachedInput(
  file: string,
  spec: InputSpec,
  cacheDir: string | undefined,
): Promise<{ u16: Uint16Array; input: { scale: number; mirrored: boolean } }> {
  const cached = cacheDir ? join(cacheDir, `${cacheKey(file, spec)}.u16`) : undefined;
  if (cached && existsSync(cached) && existsSync(`${cached}.json`)) {
    const bytes = readFileSync(cached);
    const meta = JSON.parse(readFileSync(`${cached}.json`, 'utf8')) as { scale: number; mirrored: boolean };
    return { u16: new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2), input: meta };
  }
  const { input } = await modelInputFromFile(file, spec);
  const u16 = Uint16Array.from(input.tensor, (v) => Math.round(v * 65535));
  if (cached && cacheDir) {
    mkdirSync(cacheDir, { recursive: true });
    writeFileSync(`${cached}.json`, JSON.stringify({ scale: input.scale, mirrored: input.mirrored }));
    writeFileSync(cached, new Uint8Array(u16.buffer));
  }
  return { u16, input };
}

/**
 * Training tensors made by the edge's own decode and preprocess code (identical inputs in training
 * and serving), with target maps: a disc for each finding (calcification clusters included) at the
 * map resolution. Writes inputs.u16 (N×H×W; the preprocess output is u16/65535 exactly, so this is
 * lossless at half the size of float32), targets.u8 (N×H/stride×W/stride) and index.json with the
 * findings' and look-alikes' centres for crop sampling.
 */
export async function exportTensors(
  phantomDir: string,
  outDir: string,
  spec: TensorSpec,
  onProgress?: (done: number, total: number) => void,
  cacheDir?: string,
): Promise<ExportedSet> {
  const { images } = readTruth(phantomDir);
  const mapW = Math.ceil(spec.width / spec.stride);
  const mapH = Math.ceil(spec.height / spec.stride);
  const targets = new Uint8Array(images.length * mapW * mapH);
  const index: ExportedSet['images'] = [];
  const inputsFd = openSync(join(outDir, 'inputs.u16'), 'w');
  try {
    for (const [n, image] of images.entries()) {
      const { u16, input } = await cachedInput(join(phantomDir, image.file), spec, cacheDir);
      writeSync(inputsFd, new Uint8Array(u16.buffer));
      // The same geometry the edge uses for its own training sets (labels from clinicians).
      const geometry = { ...image, scale: input.scale, mirrored: input.mirrored };
      const toInput = (p: { x: number; y: number }) => toInputPixels(geometry, p);
      for (const f of image.findings) {
        drawDisc(targets, n * mapW * mapH, { width: mapW, height: mapH, stride: spec.stride }, geometry, f);
      }
      const round = (c: { x: number; y: number }) => ({ x: Math.round(c.x), y: Math.round(c.y) });
      index.push({
        file: image.file,
        patientId: image.patientId,
        positive: image.findings.length > 0,
        findings: image.findings.length,
        centres: [
          ...image.findings.map((f) => ({
            ...round(toInput(f)),
            kind: 'finding' as const,
            type: f.type,
            radius: Math.round(((f.diameterMm / 2) * input.scale) / image.pixelSpacingMm),
          })),
          ...image.lookalikes.map((l) => ({ ...round(toInput(l)), kind: 'lookalike' as const })),
        ],
        ...(image.source ? { acquisition: image.source.acquisition } : {}),
      });
      onProgress?.(n + 1, images.length);
    }
  } finally {
    closeSync(inputsFd);
  }
  writeFileSync(join(outDir, 'targets.u8'), Buffer.from(targets.buffer));
  const set: ExportedSet = { count: images.length, width: spec.width, height: spec.height, images: index };
  writeFileSync(join(outDir, 'index.json'), `${JSON.stringify({ ...set, stride: spec.stride }, null, 2)}\n`);
  return set;
}
