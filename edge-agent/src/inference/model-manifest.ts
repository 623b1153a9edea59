import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Static, Type } from '@sinclair/typebox';
import { assertSchema, SemVer, VigilError } from '@vigil/shared';
import type { Acquisition } from '../imaging/image-attributes.js';
import { PREPROCESSING_STEPS, unsupportedPreprocessing } from './preprocess.js';

/**
 * Maps a finding's peak probability to the probability that it is a real lesion, fitted on held-out
 * data (Platt scaling: σ(a·logit(p) + b)), so a score threshold means the same across model versions.
 */
const PlattCalibration = Type.Object({
  method: Type.Literal('platt'),
  a: Type.Number({ exclusiveMinimum: 0 }),
  b: Type.Number(),
});
const FindingThreshold = Type.Number({ exclusiveMinimum: 0, exclusiveMaximum: 1 });

/** manifest.json of a model package: what the edge needs to feed the model and read its output. */
export const ModelManifest = Type.Object({
  name: Type.String({ pattern: '^[a-z0-9][a-z0-9._-]*$', maxLength: 64 }),
  version: SemVer,
  file: Type.String({ pattern: '^[A-Za-z0-9._-]+\\.onnx$' }),
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  input: Type.Object({
    name: Type.String(),
    width: Type.Integer({ minimum: 16, maximum: 4096 }),
    height: Type.Integer({ minimum: 16, maximum: 4096 }),
    channels: Type.Literal(1),
    layout: Type.Literal('NCHW'),
    dtype: Type.Literal('float32'),
  }),
  preprocessing: Type.Array(Type.String()),
  output: Type.Object({
    name: Type.String(),
    kind: Type.Literal('lesion-probability'),
    stride: Type.Integer({ minimum: 1, maximum: 64 }),
  }),
  thresholds: Type.Object({
    finding: FindingThreshold,
    minAreaMm2: Type.Number({ minimum: 0 }),
    maxFindings: Type.Integer({ minimum: 1, maximum: 100 }),
  }),
  /** Finding-score calibration (absent: scores are the map's own probabilities). */
  calibration: Type.Optional(PlattCalibration),
  /**
   * A model with a network per kind of acquisition in one graph (an ONNX `If`, scripts/train/branches.py):
   * the edge feeds `selector` (bool, shape [1]) true for scanned film, and reads film findings at the
   * film branch's own threshold and calibration. Digital images use `thresholds.finding` and `calibration`.
   */
  branches: Type.Optional(
    Type.Object({
      selector: Type.String(),
      film: Type.Object({
        finding: FindingThreshold,
        calibration: Type.Optional(PlattCalibration),
        /** The film branch's preprocessing (absent: the model's). */
        preprocessing: Type.Optional(Type.Array(Type.String())),
      }),
    }),
  ),
  training: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  /** Reference image and the output it must give on any device (model packages carry one). */
  selfTest: Type.Optional(
    Type.Object({
      image: Type.String({ pattern: '^[A-Za-z0-9._-]+$' }),
      expected: Type.Object({ score: Type.Number({ minimum: 0, maximum: 1 }), findings: Type.Integer({ minimum: 0 }) }),
      tolerance: Type.Object({ score: Type.Number({ minimum: 0, maximum: 1 }), findings: Type.Integer({ minimum: 0 }) }),
    }),
  ),
  intendedUse: Type.Optional(Type.String()),
});
export type ModelManifest = Static<typeof ModelManifest>;

/** The finding threshold and calibration for an image of this acquisition (its branch's, if any). */
export function operatingPoint(
  manifest: ModelManifest,
  acquisition: Acquisition,
): { finding: number; calibration?: Static<typeof PlattCalibration> } {
  const film = manifest.branches?.film;
  if (acquisition === 'film' && film)
    return { finding: film.finding, ...(film.calibration ? { calibration: film.calibration } : {}) };
  return { finding: manifest.thresholds.finding, ...(manifest.calibration ? { calibration: manifest.calibration } : {}) };
}

export interface ModelPackage {
  manifest: ModelManifest;
  onnx: Buffer;
}

/** Reads a model directory and checks the manifest schema and the model's SHA-256. */
export async function readModelPackage(dir: string): Promise<ModelPackage> {
  let manifest: ModelManifest;
  try {
    manifest = assertSchema(ModelManifest, JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')), 'model manifest');
  } catch (error) {
    throw new VigilError('VIGIL_MODEL_INVALID', `${dir}/manifest.json: ${(error as Error).message}`);
  }
  const unsupported = unsupportedPreprocessing([...manifest.preprocessing, ...(manifest.branches?.film.preprocessing ?? [])]);
  if (unsupported.length > 0) {
    throw new VigilError(
      'VIGIL_MODEL_INVALID',
      `${dir}/manifest.json: preprocessing step(s) ${unsupported.join(', ')} not supported by this edge (supports ${PREPROCESSING_STEPS.join(', ')})`,
    );
  }
  let onnx: Buffer;
  try {
    onnx = await readFile(join(dir, manifest.file));
  } catch (error) {
    throw new VigilError('VIGIL_MODEL_INVALID', `${dir}/${manifest.file}: ${(error as Error).message}`);
  }
  const sha256 = createHash('sha256').update(onnx).digest('hex');
  if (sha256 !== manifest.sha256) {
    throw new VigilError('VIGIL_MODEL_INVALID', `${manifest.file} has SHA-256 ${sha256}, manifest says ${manifest.sha256}`);
  }
  return { manifest, onnx };
}
