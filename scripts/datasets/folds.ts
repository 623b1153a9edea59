import { createHash } from 'node:crypto';

/**
 * The cross-validation fold of a woman: a hash of her id, so every tool (conversion, training,
 * evaluation) puts her in the same fold without sharing a list, and a woman is never split.
 */
export function foldOf(womanId: string, folds: number): number {
  return createHash('sha256').update(womanId).digest().readUInt32BE(0) % folds;
}

/** Parses `--folds N --fold K` (both or neither); K in 0…N−1. */
export function foldOption(folds: string | undefined, fold: string | undefined): { folds: number; fold: number } | undefined {
  if (folds === undefined && fold === undefined) return undefined;
  const n = Number(folds);
  const k = Number(fold);
  if (!Number.isInteger(n) || n < 2 || !Number.isInteger(k) || k < 0 || k >= n) {
    throw new Error('--folds N (≥ 2) and --fold K (0…N−1) go together');
  }
  return { folds: n, fold: k };
}
