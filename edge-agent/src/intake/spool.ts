import { createHash, randomUUID } from 'node:crypto';
import { mkdirSync, readdirSync, rmSync, statfsSync } from 'node:fs';
import { copyFile, open, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { VigilError } from '@vigil/shared';
import Database from 'better-sqlite3';
import { type AtRest, PLAINTEXT, sealedFileKeyId } from '../at-rest/at-rest-cipher.js';

export type InstanceState = 'spooled' | 'processed' | 'quarantined';

export interface QuarantineReason {
  code: string;
  message: string;
  input: string;
  source: string;
  quarantinedAt: string;
}

/** Errors that mean the disk (or the quota, or SQLite's file) is full: retry once space returns. */
const STORAGE_FULL = new Set([
  'ENOSPC',
  'EDQUOT',
  'SQLITE_FULL',
  'VIGIL_INTAKE_STORAGE_FULL',
  'VIGIL_OUTBOX_DISK_FULL',
  'VIGIL_OUTBOX_FULL',
]);

/** True when an error (of any layer: fs, SQLite, the outbox) says storage is full: never a reason to quarantine. */
export function isStorageFull(error: unknown): boolean {
  return STORAGE_FULL.has(String((error as { code?: unknown } | undefined)?.code ?? ''));
}

/** A storage-full error as VIGIL_INTAKE_STORAGE_FULL; anything else as it is. */
function storageError(error: unknown, what: string): unknown {
  if (!isStorageFull(error)) return error;
  return new VigilError('VIGIL_INTAKE_STORAGE_FULL', `${what}: ${(error as Error).message}`);
}

/** True for the errors that mean "the file is not there (any more)". */
export function isVanished(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

async function fsyncPath(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Durable landing area for received instances. A file is complete and fsynced, renamed into
 * `ready/` and the directory fsynced before the sender is acknowledged, so an acknowledged image
 * survives kill -9 and power loss. `ready/` is the work queue (scanned at start); the ledger
 * remembers SOP Instance UIDs so a resend is recognised as a duplicate.
 */
export class Spool {
  readonly incomingDir: string;
  readonly readyDir: string;
  readonly quarantineDir: string;
  private readonly db: Database.Database;
  private readonly s;
  /** Partial files from transfers cut off before the last run stopped, removed at start. */
  readonly stalePartialsRemoved: number;

  /** Spooled and quarantined files are encrypted with this (PLAINTEXT when encryption is off). */
  readonly atRest: AtRest;

  constructor(dataDir: string, atRest: AtRest = PLAINTEXT) {
    this.atRest = atRest;
    this.incomingDir = join(dataDir, 'spool', 'incoming');
    this.readyDir = join(dataDir, 'spool', 'ready');
    this.quarantineDir = join(dataDir, 'quarantine');
    for (const d of [this.incomingDir, this.readyDir, this.quarantineDir]) mkdirSync(d, { recursive: true });
    // Nothing is being received before the spool opens: whatever is in incoming/ is left from a
    // transfer that a crash or kill cut off (it was never acknowledged, the sender still has it).
    const stale = readdirSync(this.incomingDir);
    for (const name of stale) rmSync(join(this.incomingDir, name), { force: true, recursive: true });
    this.stalePartialsRemoved = stale.length;
    this.db = new Database(join(dataDir, 'intake.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.exec(`CREATE TABLE IF NOT EXISTS instances (
      sop_instance_uid TEXT PRIMARY KEY,
      state TEXT NOT NULL,
      source TEXT NOT NULL,
      received_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      reason_code TEXT
    )`);
    this.s = {
      get: this.db.prepare('SELECT state FROM instances WHERE sop_instance_uid = ?'),
      upsert: this.db.prepare(`INSERT INTO instances (sop_instance_uid, state, source, received_at, updated_at, reason_code)
        VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT(sop_instance_uid) DO UPDATE SET state = excluded.state,
        updated_at = excluded.updated_at, reason_code = excluded.reason_code`),
      counts: this.db.prepare('SELECT state, COUNT(*) AS n FROM instances GROUP BY state'),
    };
  }

  /** Free bytes on the disk that holds the spool (what an unprivileged writer may still use). */
  freeBytes(): number {
    const stats = statfsSync(this.incomingDir);
    return Number(stats.bavail) * Number(stats.bsize);
  }

  /** A fresh path in `incoming/` for a file being received. */
  incomingPath(): string {
    return join(this.incomingDir, `${randomUUID()}.part`);
  }

  readyPathFor(sopInstanceUid: string): string {
    return join(this.readyDir, `${createHash('sha256').update(sopInstanceUid).digest('hex').slice(0, 40)}.dcm`);
  }

  /** True when this instance was already received (spooled, processed or quarantined). */
  isKnown(sopInstanceUid: string): boolean {
    return this.s.get.get(sopInstanceUid) !== undefined;
  }

  /**
   * Makes a received file durable in `ready/`. Returns 'duplicate' (and removes the file) when the
   * instance was seen before. Resolves only once the file and its directory entry are on disk.
   */
  async admit(tempPath: string, sopInstanceUid: string, source: string): Promise<'spooled' | 'duplicate'> {
    if (this.isKnown(sopInstanceUid)) {
      await rm(tempPath, { force: true });
      return 'duplicate';
    }
    await fsyncPath(tempPath);
    const target = this.readyPathFor(sopInstanceUid);
    await rename(tempPath, target);
    await fsyncPath(this.readyDir);
    const now = new Date().toISOString();
    this.s.upsert.run(sopInstanceUid, 'spooled', source, now, now, null);
    return 'spooled';
  }

  /** Files waiting to be processed, oldest name first (after a restart: everything left over). */
  pending(): string[] {
    return readdirSync(this.readyDir)
      .filter((name) => name.endsWith('.dcm'))
      .sort()
      .map((name) => join(this.readyDir, name));
  }

  async markProcessed(path: string, sopInstanceUid: string | undefined): Promise<void> {
    if (sopInstanceUid) this.record(sopInstanceUid, 'processed', null);
    await rm(path, { force: true });
  }

  /**
   * Moves a file that cannot be processed aside with a JSON reason; never deletes it. Returns the
   * quarantined path, or undefined when the file vanished before it could be moved (nothing to keep;
   * the caller logs VIGIL_INTAKE_FILE_VANISHED). The reason is written and fsynced under a temporary
   * name first and renamed once the file is there, so a reason is never empty and never names a
   * file that is not in quarantine. A full disk (VIGIL_INTAKE_STORAGE_FULL) leaves the file where
   * it was, for the caller to retry.
   */
  async quarantine(path: string, error: VigilError, source: string, sopInstanceUid?: string): Promise<string | undefined> {
    const id = `${new Date().toISOString().replace(/[:.]/g, '-')}-${basename(path).replace(/\.(dcm|part)$/, '')}`;
    const target = join(this.quarantineDir, `${id}.dcm`);
    const reasonPath = join(this.quarantineDir, `${id}.json`);
    const reasonTemp = join(this.quarantineDir, `.${id}.json.tmp`);
    const reason: QuarantineReason = {
      code: error.code,
      message: error.message,
      input: path,
      source,
      quarantinedAt: new Date().toISOString(),
    };
    try {
      await writeFile(reasonTemp, `${JSON.stringify(reason, null, 2)}\n`);
      await fsyncPath(reasonTemp);
    } catch (writeError) {
      await rm(reasonTemp, { force: true });
      throw storageError(writeError, 'the quarantine reason could not be written');
    }
    try {
      if (this.atRest.enabled && (await sealedFileKeyId(path)) === undefined) {
        // A file that never reached the spool (a watched folder's, refused before spooling): kept
        // encrypted like everything else the edge holds, then the plaintext original removed.
        try {
          await writeFile(target, this.atRest.seal(await readFile(path)));
          await fsyncPath(target);
        } catch (sealError) {
          await rm(target, { force: true });
          throw sealError;
        }
        await rm(path, { force: true });
      } else {
        await rename(path, target).catch(async (error: NodeJS.ErrnoException) => {
          // A watched folder on another file system: copy, then remove.
          if (error.code !== 'EXDEV') throw error;
          try {
            await copyFile(path, target);
          } catch (copyError) {
            await rm(target, { force: true });
            throw copyError;
          }
          await rm(path, { force: true });
        });
      }
    } catch (moveError) {
      await rm(reasonTemp, { force: true });
      if (isVanished(moveError)) {
        await rm(target, { force: true });
        return undefined;
      }
      throw storageError(moveError, 'the file could not be moved to quarantine');
    }
    await rename(reasonTemp, reasonPath);
    await fsyncPath(this.quarantineDir);
    if (sopInstanceUid) this.record(sopInstanceUid, 'quarantined', error.code);
    return target;
  }

  private record(sopInstanceUid: string, state: InstanceState, reasonCode: string | null): void {
    const now = new Date().toISOString();
    this.s.upsert.run(sopInstanceUid, state, 'pipeline', now, now, reasonCode);
  }

  counts(): Record<InstanceState, number> {
    const out: Record<InstanceState, number> = { spooled: 0, processed: 0, quarantined: 0 };
    for (const row of this.s.counts.all() as { state: InstanceState; n: number }[]) out[row.state] = row.n;
    return out;
  }

  close(): void {
    this.db.close();
  }
}
