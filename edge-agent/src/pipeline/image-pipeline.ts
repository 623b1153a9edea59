import { type ErrorCode, type Logger, VigilError } from '@vigil/shared';
import type { DeidentifyOptions } from '../deid/deidentify.js';
import type { InputSpec } from '../inference/preprocess.js';
import { isStorageFull, type Spool } from '../intake/spool.js';
import type { PipelineCounters } from '../telemetry/pipeline-counters.js';
import { type Decoder, type PreparedImage, prepareImage } from './prepare-image.js';

/** What happens to each prepared image (the agent's `ImageProcessor`). */
export type ImageHandler = (image: PreparedImage) => Promise<unknown>;

/** Errors that mean "try again later" (the image stays in the spool), not "this image is bad". */

/** Retries of an image whose processing failed unexpectedly before it waits for the next start. */
const UNEXPECTED_RETRIES = 5;

export interface ImagePipelineOptions {
  spool: Spool;
  pool: Decoder;
  deid: DeidentifyOptions;
  counters: PipelineCounters;
  logger: Logger;
  handler: ImageHandler;
  /** The active model's input: decode workers preprocess for it (none: decode only). */
  inputSpec?: () => InputSpec | undefined;
  /** Images in flight at once; bounds memory whatever the intake rate. */
  concurrency: number;
  retryDelayMs?: number;
}

/**
 * Spool → decode (worker pool) → de-identify → handler (the processor: infer, result, sinks) → mark processed. Work comes from the spool
 * directory, so intake never waits for processing and a restart resumes where it stopped. Bad
 * input is quarantined with its code; it never blocks the next image.
 */
export class ImagePipeline {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private stopped = false;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  /** Unexpected (not storage-full) failures per spooled image. */
  private readonly unexpected = new Map<string, number>();

  constructor(private readonly options: ImagePipelineOptions) {}

  /** Picks up everything left in the spool (after a restart) and starts processing. */
  start(): void {
    for (const path of this.options.spool.pending()) this.enqueue(path);
  }

  enqueue(path: string): void {
    if (this.stopped || this.queued.has(path)) return;
    this.queued.add(path);
    this.queue.push(path);
    this.updateDepth();
    this.pump();
  }

  private updateDepth(): void {
    this.options.counters.queueDepth = this.queue.length + this.active;
  }

  private pump(): void {
    while (!this.stopped && this.active < this.options.concurrency && this.queue.length > 0) {
      const path = this.queue.shift() as string;
      this.active += 1;
      this.updateDepth();
      this.process(path)
        .catch((error: unknown) => {
          // Whatever failed, the image is still in the spool (quarantine moves it only once it can
          // keep it with its reason). A full disk is retried until space returns; any other failure
          // a few times, then the image waits in the spool for the next start (never lost).
          const full = isStorageFull(error);
          const failures = full ? 0 : (this.unexpected.get(path) ?? 0) + 1;
          if (!full) this.unexpected.set(path, failures);
          const retry = full || failures < UNEXPECTED_RETRIES;
          this.options.logger[full ? 'warn' : 'error'](
            { code: full ? 'VIGIL_INTAKE_STORAGE_FULL' : 'VIGIL_INTERNAL', err: String(error), failures },
            retry
              ? 'pipeline step failed; the image stays in the spool and is retried'
              : 'pipeline step failed again; the image stays in the spool until the next start',
          );
          if (retry) this.retryLater(path);
        })
        .finally(() => {
          this.active -= 1;
          this.queued.delete(path);
          this.updateDepth();
          this.pump();
          if (this.active === 0 && this.queue.length === 0) for (const resolve of this.idleWaiters.splice(0)) resolve();
        });
    }
  }

  private async process(path: string): Promise<void> {
    const { spool, counters, logger } = this.options;
    const started = performance.now();
    const spec = this.options.inputSpec?.();
    const result = await this.options.pool.decode({ path, frameIndex: 0, ...(spec ? { preprocess: spec } : {}) });
    if (!result.ok) {
      const error = new VigilError(result.error.code as ErrorCode, result.error.message);
      const target = await this.quarantine(path, error, result.sopInstanceUid);
      if (target) logger.warn({ code: error.code, quarantined: target }, `quarantined: ${error.message}`);
      return;
    }
    let prepared: PreparedImage;
    try {
      prepared = prepareImage(path, result, this.options.deid);
    } catch (error) {
      // An instance whose attributes cannot be de-identified as they are (a View Position that is no
      // mammography view): quarantined with its code, like an undecodable one.
      if (!(error instanceof VigilError)) throw error;
      const target = await this.quarantine(path, error, result.attrs.sopInstanceUid);
      if (target) logger.warn({ code: error.code, quarantined: target }, `quarantined: ${error.message}`);
      return;
    }
    const { image } = prepared;
    try {
      await this.options.handler(prepared);
    } catch (error) {
      const code = (error as VigilError).code ?? 'VIGIL_INTERNAL';
      counters.failed += 1;
      if (isStorageFull(error)) {
        logger.warn(
          { code: 'VIGIL_INTAKE_STORAGE_FULL', cause: code, instanceKey: image.instanceKey },
          'storage is full: the image stays in the spool and is retried once there is space',
        );
        this.retryLater(path);
        return;
      }
      const vigil =
        error instanceof VigilError ? error : new VigilError('VIGIL_INTERNAL', String((error as Error)?.message ?? error));
      if (await this.quarantine(path, vigil, result.attrs.sopInstanceUid)) {
        logger.error(
          { code: vigil.code, instanceKey: image.instanceKey },
          `quarantined after processing failure: ${vigil.message}`,
        );
      }
      return;
    }
    await spool.markProcessed(path, result.attrs.sopInstanceUid);
    this.unexpected.delete(path);
    counters.processed += 1;
    counters.recordLatency(performance.now() - started);
  }

  /** Moves a spooled image to quarantine and counts it; undefined (logged) when it vanished first. */
  private async quarantine(path: string, error: VigilError, sopInstanceUid: string | undefined): Promise<string | undefined> {
    const target = await this.options.spool.quarantine(path, error, 'pipeline', sopInstanceUid);
    if (!target) {
      this.options.logger.warn(
        { code: 'VIGIL_INTAKE_FILE_VANISHED', path },
        'a spooled image vanished before it was quarantined',
      );
      return undefined;
    }
    this.options.counters.quarantined += 1;
    return target;
  }

  private retryLater(path: string): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      this.enqueue(path);
    }, this.options.retryDelayMs ?? 5000);
    this.retryTimers.add(timer);
  }

  /** Resolves when nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.retryTimers) clearTimeout(timer);
    this.queue.length = 0;
    await this.idle();
  }
}
