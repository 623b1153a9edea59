import { basename } from 'node:path';
import type { InferredCohort } from './infer-cohort.js';

/** One evaluation: its label and the cohort folders it pools, each with the model that runs on it. */
export interface CohortSpec {
  label: string;
  parts: { dir: string; model: string }[];
}

/**
 * `DIR` (run with the default model) or `LABEL=DIR@MODEL,DIR@MODEL,…`: cross-validation folds, each
 * run with the model that left it out, pooled under LABEL.
 */
export function cohortSpec(text: string, defaultModel: string): CohortSpec {
  const eq = text.indexOf('=');
  if (eq < 0) return { label: text, parts: [{ dir: text, model: defaultModel }] };
  const label = text.slice(0, eq);
  const parts = text
    .slice(eq + 1)
    .split(',')
    .filter(Boolean)
    .map((part) => {
      const at = part.lastIndexOf('@');
      return at < 0 ? { dir: part, model: defaultModel } : { dir: part.slice(0, at), model: part.slice(at + 1) };
    });
  if (!label || parts.length === 0) throw new Error(`${text}: expected LABEL=DIR@MODEL[,DIR@MODEL…]`);
  return { label, parts };
}

/**
 * Folds' inferences as one cohort. The model named is the first fold's, with the version of each
 * (e.g. "0.6.0 ×5 folds"): every image was read by a model that did not train on its woman.
 */
export function pooled(cohorts: readonly InferredCohort[]): InferredCohort {
  const first = cohorts[0];
  if (!first) throw new Error('no cohort to pool');
  if (cohorts.length === 1) return first;
  const versions = [...new Set(cohorts.map((c) => c.model.version))];
  return {
    model: { ...first.model, version: `${versions.join('/')} (${cohorts.length} fold models)` },
    images: cohorts.flatMap((c) => c.images),
  };
}

/** A label for a folder or a pool. */
export function labelOf(spec: CohortSpec): string {
  return spec.parts.length === 1 && spec.parts[0]?.dir === spec.label ? basename(spec.label) : spec.label;
}
