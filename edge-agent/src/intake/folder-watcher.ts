import { copyFile, readdir, readFile, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { asVigilError, type Logger, VigilError } from '@vigil/shared';
import { parseDicom } from '../imaging/dicom-file.js';
import type { Spool } from './spool.js';

export interface FolderWatcherOptions {
  dir: string;
  spool: Spool;
  logger: Logger;
  /** How often the folder is scanned. */
  intervalMs: number;
  /** A file is taken once its size and mtime have not changed for this long. */
  stableMs: number;
  onSpooled: (path: string, sopInstanceUid: string) => void;
  onQuarantined: (error: VigilError) => void;
}

interface Seen {
  size: number;
  mtimeMs: number;
  since: number;
}

/**
 * Watched-folder intake by polling, because it must work on network shares (where inotify sees
 * nothing) and must wait until a modality or copy tool has finished writing: a file is taken only
 * after its size and mtime stayed the same for `stableMs`. Taken files are copied into the spool
 * and removed from the folder; files that are not DICOM go to quarantine with their reason.
 */
export class FolderWatcher {
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new Map<string, Seen>();
  private scanning = false;

  constructor(private readonly options: FolderWatcherOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.scan(), this.options.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
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

  async scan(): Promise<void> {
    if (this.scanning) return;
    this.scanning = true;
    try {
      const now = Date.now();
      const files = await this.list(this.options.dir);
      const present = new Set(files);
      for (const key of this.seen.keys()) if (!present.has(key)) this.seen.delete(key);
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
        await this.take(file);
      }
    } finally {
      this.scanning = false;
    }
  }

  private async take(file: string): Promise<void> {
    const { spool, logger } = this.options;
    const source = `folder:${relative(this.options.dir, file)}`;
    let sopInstanceUid: string;
    try {
      const parsed = parseDicom(await readFile(file));
      sopInstanceUid = (parsed.dataSet.string('x00080018') ?? '').trim();
      if (!sopInstanceUid) throw new VigilError('VIGIL_DICOM_NOT_DICOM', 'no SOP Instance UID (0008,0018)');
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_DICOM_NOT_DICOM');
      const target = await spool.quarantine(file, vigil, source);
      logger.warn({ code: vigil.code, quarantined: target }, `watched-folder file quarantined: ${vigil.message}`);
      this.options.onQuarantined(vigil);
      return;
    }
    const temp = spool.incomingPath();
    await copyFile(file, temp);
    const outcome = await spool.admit(temp, sopInstanceUid, source);
    await rm(file, { force: true });
    if (outcome === 'spooled') this.options.onSpooled(spool.readyPathFor(sopInstanceUid), sopInstanceUid);
    else logger.info({ source }, 'duplicate instance from the watched folder ignored');
  }
}
