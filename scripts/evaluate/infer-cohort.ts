// One pass of the model over a phantom set, through the edge's own decode → preprocess → inference →
// findings code, kept per image so the image-level figures, the size figures, the calibration curve
// and the follow-up alerts all come from the same run (inference is the slow part: ~0.3 s an image
// here). The result is cached next to the phantoms, keyed by the model's SHA-256, so trying a
// follow-up policy does not run the model again.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { findingsOfMap, imageScore, inputSpecOf, mapOf, modelInputFromFile, OnnxModel } from '@vigil/edge-agent';
import type { Finding } from '@vigil/shared';
import { readTruth, type TruthImage } from '../phantoms/generate-phantoms.js';

export interface InferredImage {
  patientId: string;
  /** The result's id where it differs from the SOP Instance UID (results a hub stored). */
  resultId?: string;
  /** Visit index (0 = baseline), study and its date (YYYYMMDD), as the phantom truth has them. */
  visit: number;
  studyKey: string;
  studyDate: string;
  image: TruthImage;
  /** Image score: the map's maximum. */
  score: number;
  /** What the edge reports: findings at the manifest's thresholds. */
  findings: Finding[];
  /** Candidates at a low threshold (0.2, up to 50), for sweeping operating points. */
  candidates: Finding[];
}

export interface InferredCohort {
  model: { name: string; version: string; sha256: string; findingThreshold: number; calibrated?: boolean; calibration?: string };
  images: InferredImage[];
}

/** Candidates are extracted at this threshold, below any operating point a model ships with. */
export const CANDIDATE_THRESHOLD = 0.2;
const CACHE_VERSION = 2;

/** What the cached findings depend on besides the weights: calibrations and the film branch's threshold. */
function calibrationKey(manifest: OnnxModel['manifest']): string {
  return JSON.stringify([manifest.calibration ?? null, ...(manifest.branches ? [manifest.branches] : [])]);
}

export async function inferCohort(
  phantomDir: string,
  modelDir: string,
  options: { patients?: ReadonlySet<string>; onProgress?: (done: number, total: number) => void; cache?: boolean } = {},
): Promise<InferredCohort> {
  const model = await OnnxModel.load(modelDir);
  const { manifest } = model;
  const cacheFile = join(phantomDir, `inference-${manifest.sha256.slice(0, 16)}.json`);
  const useCache = (options.cache ?? true) && !options.patients;
  try {
    if (useCache && existsSync(cacheFile)) {
      const cached = JSON.parse(readFileSync(cacheFile, 'utf8')) as InferredCohort & { cacheVersion: number };
      const same =
        cached.model.findingThreshold === manifest.thresholds.finding && cached.model.calibration === calibrationKey(manifest);
      if (cached.cacheVersion === CACHE_VERSION && same) return cached;
    }
    const { truth } = readTruth(phantomDir);
    const work = truth.patients
      .filter((p) => !options.patients || options.patients.has(p.patientId))
      .flatMap((p) => p.visits.flatMap((v) => v.images.map((image) => ({ p, v, image }))));
    const spec = inputSpecOf(manifest);
    const images: InferredImage[] = [];
    for (const { p, v, image } of work) {
      const { attrs, input } = await modelInputFromFile(join(phantomDir, image.file), spec);
      const map = await mapOf(model, input);
      images.push({
        patientId: p.patientId,
        visit: v.index,
        studyKey: v.studyInstanceUid,
        studyDate: v.studyDate,
        image,
        score: imageScore(map),
        findings: findingsOfMap(map, input, attrs, manifest),
        candidates: findingsOfMap(map, input, attrs, manifest, { threshold: CANDIDATE_THRESHOLD, maxFindings: 50 }),
      });
      options.onProgress?.(images.length, work.length);
    }
    const cohort: InferredCohort = {
      model: {
        name: manifest.name,
        version: manifest.version,
        sha256: manifest.sha256,
        findingThreshold: manifest.thresholds.finding,
        calibrated: manifest.calibration !== undefined,
        calibration: calibrationKey(manifest),
      },
      images,
    };
    if (useCache) writeFileSync(cacheFile, JSON.stringify({ cacheVersion: CACHE_VERSION, ...cohort }));
    return cohort;
  } finally {
    await model.close();
  }
}
