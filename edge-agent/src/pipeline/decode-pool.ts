import { availableParallelism } from 'node:os';
import { workerEntry } from '@vigil/shared';
import { Piscina } from 'piscina';
import { type AtRest, PLAINTEXT } from '../at-rest/at-rest-cipher.js';
import type { OpenJpegToolSetting } from '../imaging/openjpeg-tool.js';
import type { DecodeTask, DecodeTaskResult } from './decode-task.js';

/** What each decode worker starts with. */
export interface DecodeWorkerData {
  atRestKeys: string[];
  jpeg2000Tool: OpenJpegToolSetting;
}

/**
 * Worker threads for parsing and decoding: the WASM codecs block for up to a second on a large
 * JPEG 2000 frame, which must not stall DICOM intake or MQTT on the main thread.
 */
export class DecodePool {
  private readonly pool: Piscina;

  constructor(
    threads = Math.max(1, availableParallelism() - 1),
    atRest: AtRest = PLAINTEXT,
    jpeg2000Tool: OpenJpegToolSetting = 'auto',
  ) {
    this.pool = new Piscina({
      filename: workerEntry(import.meta.url, 'decode-worker').href,
      workerData: { atRestKeys: atRest.transferable(), jpeg2000Tool } satisfies DecodeWorkerData,
      minThreads: Math.min(2, threads),
      maxThreads: threads,
      // Each WASM heap grows to ~50 MB; keep workers warm rather than re-instantiating codecs.
      idleTimeout: 60_000,
    });
  }

  decode(task: DecodeTask): Promise<DecodeTaskResult> {
    return this.pool.run(task) as Promise<DecodeTaskResult>;
  }

  /** Starts the worker threads (tsx, WASM codecs) ahead of the first image. */
  async warm(): Promise<void> {
    await Promise.all(Array.from({ length: this.pool.threads.length || 1 }, () => this.pool.run({ path: '', frameIndex: 0 })));
  }

  get queueSize(): number {
    return this.pool.queueSize;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
