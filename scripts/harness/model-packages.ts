import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateSigningKey, type PackageSignature, signPackage } from '@vigil/shared';
import { packModel } from '../../edge-agent/src/models/model-package-file.js';
import { planCohort } from '../phantoms/cohort-plan.js';
import { renderMammogram } from '../phantoms/render-mammogram.js';
import { writeMammogram } from '../phantoms/write-dicom.js';

export const BUNDLED_MODEL = join(import.meta.dirname, '../../models/vigil-demo');
const BUNDLED_MANIFEST = JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')) as {
  version: string;
  input: { width: number; height: number };
  output: { stride: number };
  /** A model with branches per acquisition keeps each branch's training record (the phantoms taught the digital one). */
  training: { phantomSeed?: number; digital?: { phantomSeed: number }; film?: { phantomSeed: number } };
};
/** The bundled model's version (from its manifest), which a fresh edge runs. */
export const BUNDLED_VERSION = BUNDLED_MANIFEST.version;
/** The phantom seed the bundled model was trained on (any of its branches): held-out tests use any other. */
export const BUNDLED_TRAINING_SEED = (() => {
  const { phantomSeed, digital, film } = BUNDLED_MANIFEST.training;
  const seeds = new Set([phantomSeed, digital?.phantomSeed, film?.phantomSeed].filter((s) => s !== undefined));
  if (seeds.size !== 1) throw new Error(`the bundled model's phantom seeds: ${[...seeds].join(', ') || 'none'} (expected one)`);
  return [...seeds][0] as number;
})();
const PYTHON = '/usr/bin/python3';

/** Phantom mammograms (demo size) for self-tests and for feeding edges during rollouts. */
export async function phantomImages(dir: string, count: number, seed = 404): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const patients = planCohort(seed, count, 1);
  const files: string[] = [];
  for (const [i, patient] of patients.entries()) {
    const laterality = i % 2 === 0 ? 'L' : 'R';
    const view = i % 4 < 2 ? 'CC' : 'MLO';
    const o = { patient, laterality, view, visitIndex: 0, rows: 512, columns: 416, pixelSpacingMm: 0.68, seed } as const;
    const path = join(dir, `phantom-${i}.dcm`);
    await writeMammogram({ ...o, path, pixels: renderMammogram(o).pixels });
    files.push(path);
  }
  return files;
}

/**
 * A copy of a model directory under another version (same weights: same behaviour), or with another
 * network (`onnx`: one network, so the manifest loses any branches).
 */
export function modelVersion(sourceDir: string, dir: string, version: string, onnx?: string): string {
  mkdirSync(dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(join(sourceDir, 'manifest.json'), 'utf8')) as {
    version: string;
    file: string;
    sha256: string;
    branches?: unknown;
  };
  if (onnx) delete manifest.branches;
  copyFileSync(onnx ?? join(sourceDir, manifest.file), join(dir, manifest.file));
  manifest.version = version;
  manifest.sha256 = createHash('sha256')
    .update(readFileSync(join(dir, manifest.file)))
    .digest('hex');
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** A model that behaves very differently from the trained one (see scripts/python/make_drifted_model.py). */
export function driftedModel(dir: string, version: string): string {
  mkdirSync(dir, { recursive: true });
  const onnx = join(dir, 'drifted.onnx');
  const { input, output } = BUNDLED_MANIFEST;
  execFileSync(
    PYTHON,
    [
      join(import.meta.dirname, '../python/make_drifted_model.py'),
      '--out',
      onnx,
      '--width',
      String(input.width),
      '--height',
      String(input.height),
      '--stride',
      String(output.stride),
    ],
    { stdio: 'pipe' },
  );
  return modelVersion(BUNDLED_MODEL, join(dir, 'model'), version, onnx);
}

export interface SignedPackage {
  path: string;
  signature: PackageSignature;
}

/** Packs (with the reference image's output recorded) and signs a model directory. */
export async function packAndSign(
  modelDir: string,
  reference: string,
  out: string,
  privateKeyPem: string,
): Promise<SignedPackage> {
  const packed = await packModel({ modelDir, referenceImage: reference, out });
  const signature = signPackage(
    { name: packed.name, version: packed.version, sha256: packed.sha256, sizeBytes: statSync(out).size },
    privateKeyPem,
  );
  return { path: out, signature };
}

export { generateSigningKey };
