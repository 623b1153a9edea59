import { mkdirSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '@vigil/shared';
import Database from 'better-sqlite3';
import type { AtRest } from '../at-rest/at-rest-cipher.js';
import { chooseEvictions, type RetentionPolicy, type Sweep } from './retention.js';

/**
 * What a viewer needs to show one kept image, under the hub's pseudonyms only (the original UIDs
 * and the patient's identity are not in it; the pixels are the clinic's own and never leave it).
 */
export interface KeptImage {
  instanceKey: string;
  seriesKey: string;
  studyKey: string;
  patientKey: string;
  /** YYYY-MM-DD */
  studyDate: string;
  laterality: 'L' | 'R' | 'U';
  view: string;
  modality: string;
  rows: number;
  columns: number;
  /** 8 or 16: the frame is served as stored values, little endian. */
  bitsAllocated: 8 | 16;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
  photometric: 'MONOCHROME1' | 'MONOCHROME2';
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter: number;
  windowWidth: number;
  /** Row and column spacing in mm, when the image says. */
  pixelSpacingMm: [number, number] | null;
  bytes: number;
  keptAt: string;
}

const KEY = /^[0-9a-f]{32}$/;

type Row = Record<string, unknown>;
const toKept = (r: Row): KeptImage => JSON.parse(r.meta_json as string) as KeptImage;

/**
 * The clinic edge's image store for viewing: each analysed image's decoded frame (stored values, so
 * the viewer's window/level works on the real data and nothing is decoded twice), sealed with the
 * at-rest key when encryption is on, indexed by the hub's pseudonyms in SQLite. A write is a temp
 * file renamed into place before its row, so the index never names a half-written frame. What is
 * kept, and for how long, is the clinic's retention policy (retention.ts).
 */
export class ClinicImageStore {
  private readonly db: Database.Database;
  private readonly dir: string;
  private timer: NodeJS.Timeout | undefined;
  private sweeping: Promise<unknown> | undefined;

  constructor(
    dataDir: string,
    private readonly o: { atRest: AtRest; retention: RetentionPolicy },
  ) {
    this.dir = join(dataDir, 'images');
    mkdirSync(this.dir, { recursive: true });
    this.db = new Database(join(dataDir, 'images.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS kept_images (
      instance_key TEXT PRIMARY KEY, study_key TEXT NOT NULL, patient_key TEXT NOT NULL,
      study_date TEXT NOT NULL, bytes INTEGER NOT NULL, meta_json TEXT NOT NULL);
      CREATE INDEX IF NOT EXISTS kept_images_study ON kept_images (study_key);`);
  }

  private path(instanceKey: string): string {
    return join(this.dir, `${instanceKey}.px`);
  }

  /** Keeps one frame (replacing an earlier copy of the same instance). */
  async keep(meta: Omit<KeptImage, 'bytes' | 'keptAt'>, pixels: Uint8Array): Promise<void> {
    if (!KEY.test(meta.instanceKey)) throw new Error(`not a pseudonym: ${meta.instanceKey}`);
    const expected = meta.rows * meta.columns * (meta.bitsAllocated / 8);
    if (pixels.byteLength !== expected)
      throw new Error(`frame of ${pixels.byteLength} bytes, expected ${expected} for ${meta.rows}×${meta.columns}`);
    const target = this.path(meta.instanceKey);
    const sealed = this.o.atRest.seal(Buffer.from(pixels.buffer, pixels.byteOffset, pixels.byteLength), meta.instanceKey);
    await writeFile(`${target}.tmp`, sealed);
    await rename(`${target}.tmp`, target);
    const kept: KeptImage = { ...meta, bytes: sealed.byteLength, keptAt: new Date().toISOString() };
    this.db
      .prepare(
        `INSERT INTO kept_images (instance_key, study_key, patient_key, study_date, bytes, meta_json) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (instance_key) DO UPDATE SET study_key = excluded.study_key, patient_key = excluded.patient_key,
         study_date = excluded.study_date, bytes = excluded.bytes, meta_json = excluded.meta_json`,
      )
      .run(meta.instanceKey, meta.studyKey, meta.patientKey, meta.studyDate, kept.bytes, JSON.stringify(kept));
  }

  /** The images of one study this edge holds (none: the study is not here). */
  study(studyKey: string): KeptImage[] {
    if (!KEY.test(studyKey)) return [];
    return (
      this.db.prepare('SELECT meta_json FROM kept_images WHERE study_key = ? ORDER BY instance_key').all(studyKey) as Row[]
    ).map(toKept);
  }

  image(instanceKey: string): KeptImage | undefined {
    if (!KEY.test(instanceKey)) return undefined;
    const row = this.db.prepare('SELECT meta_json FROM kept_images WHERE instance_key = ?').get(instanceKey) as Row | undefined;
    return row ? toKept(row) : undefined;
  }

  /** The frame's stored values (opened with the at-rest key); undefined when it is not here. */
  async frame(instanceKey: string): Promise<Buffer | undefined> {
    if (!this.image(instanceKey)) return undefined;
    try {
      return this.o.atRest.open(await readFile(this.path(instanceKey)), instanceKey);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  stats(): { images: number; bytes: number } {
    const row = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS b FROM kept_images').get() as Row;
    return { images: Number(row.n), bytes: Number(row.b) };
  }

  /** Applies the retention policy: deletes what it says goes, row first, then the file. */
  async sweep(now = new Date()): Promise<Sweep> {
    const held = (
      this.db.prepare('SELECT instance_key, patient_key, study_key, study_date, bytes FROM kept_images').all() as Row[]
    ).map((r) => ({
      instanceKey: r.instance_key as string,
      patientKey: r.patient_key as string,
      studyKey: r.study_key as string,
      studyDate: r.study_date as string,
      bytes: Number(r.bytes),
    }));
    const sweep = chooseEvictions(held, this.o.retention, now);
    const drop = this.db.prepare('DELETE FROM kept_images WHERE instance_key = ?');
    for (const key of sweep.evict) {
      drop.run(key);
      await rm(this.path(key), { force: true });
    }
    return sweep;
  }

  /** Sweeps now and then every `intervalMs`; a sweep that takes studies the age rule protects is a warning. */
  startSweeping(intervalMs: number, logger: Logger): void {
    const run = () => {
      if (this.sweeping) return;
      this.sweeping = this.sweep()
        .then((s) => {
          if (s.evict.length > 0)
            logger.info({ removed: s.evict.length, kept: this.stats() }, 'image retention: removed images past the policy');
          if (s.overProtected)
            logger.warn(
              { code: 'VIGIL_IMAGE_RETENTION_OVER', kept: this.stats() },
              'image retention: the size limit removed priors that follow-up reading needs; raise viewing.maxGb',
            );
        })
        .catch((error: Error) => logger.warn({ err: error.message }, 'image retention sweep failed; retried next time'))
        .finally(() => {
          this.sweeping = undefined;
        });
    };
    run();
    this.timer = setInterval(run, intervalMs);
    this.timer.unref();
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.sweeping;
    this.db.close();
  }
}
