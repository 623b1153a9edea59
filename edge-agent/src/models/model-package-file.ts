import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { VigilError } from '@vigil/shared';
import * as tar from 'tar';
import { type ModelManifest, readModelPackage } from '../inference/model-manifest.js';
import { OnnxModel } from '../inference/onnx-model.js';
import { referenceOutput } from './self-test.js';

/** A package is a flat gzip'd tar: manifest.json, the .onnx file and the self-test reference image. */
const SAFE_NAME = /^[A-Za-z0-9._-]+$/;

export interface PackedModel {
  path: string;
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
}

export function fileSha256(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * Builds a package from a model directory and a reference image: runs the model on the image with
 * the agent's own code and records the output (and tolerance) as the manifest's self-test.
 */
export async function packModel(o: {
  modelDir: string;
  referenceImage: string;
  out: string;
  version?: string;
  tolerance?: { score: number; findings: number };
}): Promise<PackedModel> {
  const { manifest } = await readModelPackage(o.modelDir);
  const model = await OnnxModel.load(o.modelDir, { threads: 1, preferCuda: false });
  let expected: { score: number; findings: number };
  try {
    expected = await referenceOutput(model, o.referenceImage);
  } finally {
    await model.close();
  }
  const staging = mkdtempSync(join(tmpdir(), 'vigil-pack-'));
  try {
    const image = `reference-${basename(o.referenceImage).replace(/[^A-Za-z0-9._-]/g, '_')}`;
    const packaged: ModelManifest = {
      ...manifest,
      ...(o.version ? { version: o.version } : {}),
      selfTest: { image, expected, tolerance: o.tolerance ?? { score: 0.002, findings: 0 } },
    };
    copyFileSync(join(o.modelDir, manifest.file), join(staging, manifest.file));
    copyFileSync(o.referenceImage, join(staging, image));
    writeFileSync(join(staging, 'manifest.json'), `${JSON.stringify(packaged, null, 2)}\n`);
    await tar.c({ gzip: true, file: o.out, cwd: staging, portable: true, noMtime: true }, [
      'manifest.json',
      manifest.file,
      image,
    ]);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return {
    path: o.out,
    name: manifest.name,
    version: o.version ?? manifest.version,
    sha256: fileSha256(o.out),
    sizeBytes: statSync(o.out).size,
  };
}

/** Extracts a package into `dir`: regular files with plain names only (no paths, links or devices). */
export async function unpackModel(packagePath: string, dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const refused: string[] = [];
  try {
    await tar.x({
      file: packagePath,
      cwd: dir,
      strict: true,
      filter: (path, entry) => {
        const ok = SAFE_NAME.test(path) && (entry as { type?: string }).type === 'File';
        if (!ok) refused.push(path);
        return ok;
      },
    });
  } catch (error) {
    throw new VigilError('VIGIL_MODEL_INVALID', `package is not a readable archive: ${(error as Error).message}`);
  }
  if (refused.length > 0)
    throw new VigilError('VIGIL_MODEL_INVALID', `package contains entries that are not plain files: ${refused.join(', ')}`);
}
