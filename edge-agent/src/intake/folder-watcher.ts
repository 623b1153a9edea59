import { randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { asVigilError, type Logger, VigilError } from '@vigil/shared';
import { parseDicom } from '../imaging/dicom-file.js';
import { isVanished, type Spool } from './spool.js';

export interface FolderWatcherOptions {
  dir: string;
  spool: Spool;
  logger: Logger;
  /** How often the folder is scanned. */
  intervalMs: number;
  /** A file is taken once its size and mtime have not changed for this long. */
  stableMs: number;
  /** Files are left in the folder while the spool's disk has less free space than this. */
  minFreeBytes?: number;
  onSpooled: (path: string, sopInstanceUid: string) => void;
  onQuarantined: (error: VigilError) => void;
}

interface Seen {
  size: number;
  mtimeMs: number;
  since: number;
}

/** Where taken files wait, inside the watched folder (same file system, so the claim is one rename). */
export const CLAIM_DIR = '.vigil-taking';
/** A claimed file's name starts with a UUID and a hyphen. */
const CLAIM_PREFIX_LENGTH = 37;

/**
 * Watched-folder intake by polling, because it must work on network shares (where inotify sees
 * nothing) and must wait until a modality or copy tool has finished writing: a file is taken only
 * after its size and mtime stayed the same for `stableMs`.
 *
 * Taking a file starts with one atomic rename into `.vigil-taking/` inside the folder (the claim):
 * whatever version of the file is at that name at that instant is the one processed, and anything
 * written to the name afterwards is a new file, taken on a later scan. Nobody else touches a claimed
 * file, so it is read, spooled (or quarantined) and removed without a race with cleanup jobs or
 * people on the share. A claim left by a crash is finished at the next scan; the spool's ledger makes
 * that exactly-once. Every file-system step survives the file vanishing or being unreadable: it is
 * logged with a code (`VIGIL_INTAKE_FILE_VANISHED`) and never leaves the process.
 */
export class FolderWatcher {
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, Seen>();
  /** Paths already warned about (unreadable, unclaimable), so a stuck file is not logged every scan. */
  private readonly warned = new Set<string>();
  private scanning: Promise<void> | undefined;
  private diskLow = false;
  private readonly claimDir: string;

  constructor(private readonly options: FolderWatcherOptions) {
    this.claimDir = join(options.dir, CLAIM_DIR);
  }

  start(): void {
    this.timer = setInterval(() => {
      this.scanning ??= this.scan()
        .catch((error: unknown) =>
          this.options.logger.error(
            { code: 'VIGIL_INTERNAL', err: String(error) },
            'watched-folder scan failed; next scan retries',
          ),
        )
        .finally(() => {
          this.scanning = undefined;
        });
    }, this.options.intervalMs);
  }

  /** Stops scanning and waits for a scan in progress, so the spool can be closed after it. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.scanning;
  }

  private async list(dir: string): Promise<string[]> {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    const out: string[] = [];
    for (const entry of entries) {
      if (entry.name.startsWith('.') || /\.(part|tmp|partial)$/i.test(entry.name)) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) out.push(...(await this.list(path)));
      else if (entry.isFile()) out.push(path);
    }
    return out;
  }

  /** One pass: finish claims left over, then take every file that has been stable long enough. */
  async scan(): Promise<void> {
    if (this.spoolDiskLow()) return;
    for (const name of await readdir(this.claimDir).catch(() => [])) {
      // A claim is named `{uuid}-{original name}` (see take): the source is the original name.
      const claimed = join(this.claimDir, name);
      await this.guarded(claimed, () => this.process(claimed, `folder:${name.slice(CLAIM_PREFIX_LENGTH)}`));
    }
    const now = Date.now();
    const files = await this.list(this.options.dir);
    const present = new Set(files);
    for (const key of this.seen.keys()) if (!present.has(key)) this.seen.delete(key);
    for (const key of this.warned) if (!present.has(key) && !key.startsWith(this.claimDir)) this.warned.delete(key);
    for (const file of files) {
      const s = await stat(file).catch(() => undefined);
      if (!s) continue;
      const previous = this.seen.get(file);
      if (!previous || previous.size !== s.size || previous.mtimeMs !== s.mtimeMs) {
        this.seen.set(file, { size: s.size, mtimeMs: s.mtimeMs, since: now });
        continue;
      }
      if (now - previous.since < this.options.stableMs) continue;
      this.seen.delete(file);
      await this.guarded(file, () => this.take(file));
    }
  }

  /** One file's step; whatever it throws is logged with the file and code, and the scan goes on. */
  private async guarded(path: string, step: () => Promise<void>): Promise<void> {
    try {
      await step();
    } catch (error) {
      if (this.warned.has(path)) return;
      this.warned.add(path);
      const errno = (error as NodeJS.ErrnoException)?.code;
      const vigil = isVanished(error)
        ? new VigilError('VIGIL_INTAKE_FILE_VANISHED', `file vanished while it was being taken: ${path}`)
        : asVigilError(error, errno === 'ENOSPC' || errno === 'EIO' ? 'VIGIL_INTAKE_STORAGE_FULL' : 'VIGIL_INTAKE_FILE_VANISHED');
      this.options.logger.warn(
        { code: vigil.code, path, err: (error as Error)?.message },
        `watched-folder file left for the next scan: ${vigil.message}`,
      );
    }
  }

  private spoolDiskLow(): boolean {
    const floor = this.options.minFreeBytes ?? 0;
    const low = floor > 0 && this.options.spool.freeBytes() < floor;
    if (low !== this.diskLow) {
      this.diskLow = low;
      if (low) {
        this.options.logger.error(
          { code: 'VIGIL_INTAKE_DISK_LOW', minFreeBytes: floor },
          'spool disk below its free-space floor: watched-folder files are left in place',
        );
      } else this.options.logger.info('spool disk has room again: watched-folder intake resumes');
    }
    return low;
  }

  /** Claims a stable file by renaming it into the claim folder, then processes the claimed copy. */
  private async take(file: string): Promise<void> {
    const source = `folder:${relative(this.options.dir, file)}`;
    await mkdir(this.claimDir, { recursive: true });
    const claimed = join(this.claimDir, `${randomUUID()}-${basename(file)}`);
    try {
      await rename(file, claimed);
    } catch (error) {
      if (!isVanished(error)) throw error;
      this.options.logger.warn(
        { code: 'VIGIL_INTAKE_FILE_VANISHED', source },
        'watched-folder file vanished before it was taken',
      );
      return;
    }
    await this.process(claimed, source);
  }

  /** Spools (or quarantines) a claimed file and removes it; the ledger makes a repeat a duplicate. */
  private async process(claimed: string, source: string): Promise<void> {
    const { spool, logger } = this.options;
    const bytes = await readFile(claimed);
    let sopInstanceUid: string;
    try {
      const parsed = parseDicom(bytes);
      sopInstanceUid = (parsed.dataSet.string('x00080018') ?? '').trim();
      if (!sopInstanceUid) throw new VigilError('VIGIL_DICOM_NOT_DICOM', 'no SOP Instance UID (0008,0018)');
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_DICOM_NOT_DICOM');
      const target = await spool.quarantine(claimed, vigil, source);
      if (!target) {
        logger.warn({ code: 'VIGIL_INTAKE_FILE_VANISHED', source }, 'taken file vanished before it was quarantined');
        return;
      }
      logger.warn({ code: vigil.code, quarantined: target, source }, `watched-folder file quarantined: ${vigil.message}`);
      this.options.onQuarantined(vigil);
      return;
    }
    // The bytes that were parsed are the bytes spooled: never a second read of a file that may change.
    const temp = spool.incomingPath();
    let outcome: 'spooled' | 'duplicate';
    try {
      await writeFile(temp, spool.atRest.seal(bytes));
      outcome = await spool.admit(temp, sopInstanceUid, source);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    await rm(claimed, { force: true });
    this.warned.delete(claimed);
    if (outcome === 'spooled') this.options.onSpooled(spool.readyPathFor(sopInstanceUid), sopInstanceUid);
    else logger.info({ source }, 'duplicate instance from the watched folder ignored');
  }
}
