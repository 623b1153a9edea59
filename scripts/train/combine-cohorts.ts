import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { readTruth, type Truth } from '../phantoms/generate-phantoms.js';

/**
 * One cohort folder over several (phantoms, converted real datasets): a truth.json whose image
 * files point into the source folders (no pixel is copied), without the women `exclude` names (a
 * held-out fold). Export and training then take it like any cohort.
 */
export function combineCohorts(
  out: string,
  sources: readonly string[],
  exclude: (womanId: string) => boolean = () => false,
): { dir: string; sources: { dir: string; generator: string; women: number; images: number }[] } {
  mkdirSync(out, { recursive: true });
  const combined: Truth = { generator: 'vigil-combined', version: '1.0.0', seed: 0, patients: [] };
  const summary: { dir: string; generator: string; women: number; images: number }[] = [];
  for (const dir of sources) {
    const { truth } = readTruth(dir);
    const kept = truth.patients.filter((p) => !exclude(p.patientId));
    for (const p of kept) {
      combined.patients.push({
        ...p,
        visits: p.visits.map((v) => ({
          ...v,
          images: v.images.map((i) => ({ ...i, file: relative(out, join(dir, i.file)) })),
        })),
      });
    }
    summary.push({
      dir,
      generator: truth.generator,
      women: kept.length,
      images: kept.reduce((n, p) => n + p.visits.reduce((m, v) => m + v.images.length, 0), 0),
    });
  }
  writeFileSync(join(out, 'truth.json'), `${JSON.stringify(combined)}\n`);
  return { dir: out, sources: summary };
}
