import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Acquisition } from '../imaging/image-attributes.js';
import type { InputGeometry } from './target-map.js';

/** What is kept beside each model input: enough to place labels on it, nothing identifying. */
export interface KeptInputMeta extends InputGeometry {
  instanceKey: string;
  patientKey: string;
  width: number;
  height: number;
  model: { name: string; version: string };
  /** The preprocessing (and model branch) the input was made for; absent in inputs kept before it was recorded: digital. */
  acquisition?: Acquisition;
  keptAt: string;
}

const KEY = /^[0-9a-f]{32}$/;

/**
 * The de-identified model inputs the edge keeps for retraining on clinicians' verdicts: the
 * preprocessed tensor of each analysed image (16-bit, lossless against the preprocess output) and a
 * small JSON beside it, named by the pseudonymous instance key. They stay in the clinic; at most
 * `maxImages` are kept, the oldest dropped first. A write is a temp file renamed into place, the
 * tensor before its JSON, so an interrupted write leaves nothing half-readable.
 */
export class TrainingInputStore {
  private writes = 0;

  constructor(
    readonly dir: string,
    private readonly maxImages: number,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  async keep(meta: KeptInputMeta, tensor: Float32Array): Promise<void> {
    if (!KEY.test(meta.instanceKey)) return;
    const base = join(this.dir, meta.instanceKey);
    const u16 = Uint16Array.from(tensor, (v) => Math.round(Math.min(1, Math.max(0, v)) * 65535));
    await writeFile(`${base}.u16.tmp`, new Uint8Array(u16.buffer));
    renameSync(`${base}.u16.tmp`, `${base}.u16`);
    await writeFile(`${base}.json.tmp`, JSON.stringify(meta));
    renameSync(`${base}.json.tmp`, `${base}.json`);
    if (++this.writes % 50 === 0) this.prune();
  }

  get(instanceKey: string): { meta: KeptInputMeta; tensor: Buffer } | undefined {
    if (!KEY.test(instanceKey)) return undefined;
    const base = join(this.dir, instanceKey);
    if (!existsSync(`${base}.json`) || !existsSync(`${base}.u16`)) return undefined;
    const meta = JSON.parse(readFileSync(`${base}.json`, 'utf8')) as KeptInputMeta;
    const tensor = readFileSync(`${base}.u16`);
    if (tensor.byteLength !== meta.width * meta.height * 2) return undefined;
    return { meta, tensor };
  }

  count(): number {
    return readdirSync(this.dir).filter((f) => f.endsWith('.json')).length;
  }

  /** Drops the oldest inputs beyond the limit (and any leftover temp file). */
  prune(): void {
    const entries = readdirSync(this.dir);
    for (const f of entries) if (f.endsWith('.tmp')) rmSync(join(this.dir, f), { force: true });
    const kept = entries
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ key: f.slice(0, -5), at: statSync(join(this.dir, f)).mtimeMs }))
      .sort((a, b) => a.at - b.at);
    for (const { key } of kept.slice(0, Math.max(0, kept.length - this.maxImages))) {
      rmSync(join(this.dir, `${key}.json`), { force: true });
      rmSync(join(this.dir, `${key}.u16`), { force: true });
    }
  }
}
