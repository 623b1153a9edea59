import { cddCesmAdapter } from './cdd-cesm-adapter.js';
import type { DatasetAdapter } from './dataset-types.js';
import { miasAdapter } from './mias-adapter.js';

/** Every dataset Vigil reads: a new one is a module implementing DatasetAdapter and an entry here. */
export const DATASET_ADAPTERS: readonly DatasetAdapter[] = [miasAdapter, cddCesmAdapter];

/** The adapter named, or the one that recognises the folder. */
export function adapterFor(dir: string, name?: string): DatasetAdapter | undefined {
  if (name) return DATASET_ADAPTERS.find((a) => a.name === name);
  return DATASET_ADAPTERS.find((a) => a.detect(dir));
}
