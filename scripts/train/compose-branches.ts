import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runPython } from './python.js';
import type { ModelManifest } from './train-model.js';

const SCRIPT = join(import.meta.dirname, 'branches.py');

function readManifest(dir: string): ModelManifest {
  return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as ModelManifest;
}

/**
 * One model package from two: `digital` reads digital images (and phantoms), `film` scanned film, in
 * one ONNX graph (branches.py: an `If` on a boolean input, so one network runs per image). The
 * package keeps the digital model's input, preprocessing, thresholds and calibration, and carries the
 * film model's own threshold, calibration and preprocessing under `branches.film`.
 */
export async function composeByAcquisition(o: {
  digital: string;
  film: string;
  out: string;
  version: string;
  /**
   * The film branch reports findings from this calibrated score up (an operating point chosen by
   * cross-validation on film), instead of the film model's own threshold.
   */
  filmScore?: number;
  log: (line: string) => void;
}): Promise<ModelManifest> {
  const digital = readManifest(o.digital);
  const film = readManifest(o.film);
  for (const [what, a, b] of [
    ['input', digital.input, film.input],
    ['output', digital.output, film.output],
  ] as const)
    if (JSON.stringify(a) !== JSON.stringify(b))
      throw new Error(`the digital and film models differ in ${what}: ${JSON.stringify(a)} vs ${JSON.stringify(b)}`);
  if (digital.branches || film.branches) throw new Error('a model to compose has branches already');
  mkdirSync(o.out, { recursive: true });
  const onnx = join(o.out, 'model.onnx');
  await runPython([SCRIPT, 'compose', join(o.digital, digital.file), join(o.film, film.file), onnx, '--selector', 'film'], o.log);
  const { selfTest: _, ...base } = digital as ModelManifest & { selfTest?: unknown };
  const manifest: ModelManifest = {
    ...base,
    version: o.version,
    file: 'model.onnx',
    sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex'),
    branches: {
      selector: 'film',
      film: {
        finding: o.filmScore === undefined ? film.thresholds.finding : rawThreshold(o.filmScore, film),
        ...(film.calibration ? { calibration: film.calibration } : {}),
        preprocessing: film.preprocessing,
      },
    },
    training: {
      composedOf: { digital: `${digital.name} ${digital.version}`, film: `${film.name} ${film.version}` },
      digital: digital.training,
      film: film.training,
    },
    intendedUse: film.intendedUse ?? digital.intendedUse,
  };
  writeFileSync(join(o.out, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  return manifest;
}

/** A map probability as a manifest's finding threshold: within (0.01, 0.99), four decimals. */
export function findingThreshold(p: number): number {
  return Math.round(Math.min(0.99, Math.max(0.01, p)) * 1e4) / 1e4;
}

/** The map probability whose calibrated score is `score` (the inverse of σ(a·logit(p) + b)), within (0.01, 0.99). */
export function rawThreshold(score: number, model: Pick<ModelManifest, 'calibration'>): number {
  if (!(score > 0 && score < 1)) throw new Error(`a calibrated score must lie in (0, 1), not ${score}`);
  const c = model.calibration;
  const logit = Math.log(score / (1 - score));
  return findingThreshold(c ? 1 / (1 + Math.exp(-(logit - c.b) / c.a)) : score);
}

/** One branch of a composed model as a plain model package (fine-tuning starts from it). */
export async function extractBranch(
  composed: string,
  branch: 'digital' | 'film',
  out: string,
  log: (line: string) => void,
): Promise<ModelManifest> {
  const manifest = readManifest(composed);
  if (!manifest.branches) throw new Error(`${composed}: a model without branches`);
  mkdirSync(out, { recursive: true });
  const onnx = join(out, 'model.onnx');
  await runPython([SCRIPT, 'extract', join(composed, manifest.file), branch, onnx], log);
  const { branches, ...rest } = manifest;
  const film = branches.film;
  const plain: ModelManifest = {
    ...rest,
    file: 'model.onnx',
    sha256: createHash('sha256').update(readFileSync(onnx)).digest('hex'),
    // The branch's own training record (composeByAcquisition keeps one per branch).
    training: (manifest.training[branch] as Record<string, unknown> | undefined) ?? manifest.training,
    ...(branch === 'film'
      ? {
          thresholds: { ...manifest.thresholds, finding: film.finding },
          preprocessing: film.preprocessing ?? manifest.preprocessing,
          ...(film.calibration ? { calibration: film.calibration } : {}),
        }
      : {}),
  };
  if (branch === 'film' && !film.calibration) delete plain.calibration;
  writeFileSync(join(out, 'manifest.json'), `${JSON.stringify(plain, null, 2)}\n`);
  return plain;
}
