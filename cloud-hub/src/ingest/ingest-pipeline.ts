import { createHash } from 'node:crypto';
import {
  asVigilError,
  decodeMessage,
  type Logger,
  type ModelReportedMessage,
  type ResultMessage,
  type StatusMessage,
  type TelemetryMessage,
  VigilError,
} from '@vigil/shared';
import type { HistoryPoint, HistoryStore } from '../history/history-store.js';
import type { HubMetrics } from '../http/hub-metrics.js';
import { resultPoints, telemetryPoints } from './history-points.js';
import type { DeadLetter, IngestBatch, IngestStore } from './ingest-store.js';
import { type RejectedResult, rejectedResult } from './receipts.js';
import { assertPlausibleStudyDate } from './study-date-plausibility.js';

export type IngestOutcome = 'stored' | 'dead-lettered';

export interface IngestOptions {
  state: Pick<IngestStore, 'commitIngest'>;
  history: HistoryStore;
  logger: Logger;
  metrics?: HubMetrics;
  maxPayloadBytes: number;
  /** Flush when this many messages wait… */
  batchSize: number;
  /** …or when the oldest has waited this long. */
  maxWaitMs: number;
  /**
   * Batches committing at once. While that many are in flight, what arrives waits and goes in the
   * next batch when one finishes (group commit): fewer, larger transactions. 0: no limit.
   */
  maxCommitsInFlight?: number;
  /**
   * Called after a batch is durable (follow-up recomputation, live events, receipts), with the
   * results of the batch that were dead-lettered. Must not throw.
   */
  onCommitted?: (batch: IngestBatch, rejected: RejectedResult[]) => void;
}

interface Pending {
  resolve: (outcome: IngestOutcome) => void;
  reject: (error: VigilError) => void;
  outcome: IngestOutcome;
}

const EXCERPT_BYTES = 4096;

/**
 * validate → dedupe → write state and history in one batch → acknowledge. `submit` resolves only
 * after the message is durable (or durably dead-lettered), so the broker acknowledgement that
 * follows it never covers a message the hub could still lose. It rejects when the stores are
 * unavailable; the caller then withholds the acknowledgement and the device sends it again.
 */
export class IngestPipeline {
  private batch: IngestBatch = IngestPipeline.emptyBatch();
  private points: HistoryPoint[] = [];
  private rejected: RejectedResult[] = [];
  private waiters: Pending[] = [];
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private inBatch = new Set<string>();
  storedTotal = 0;
  duplicateTotal = 0;
  deadLetterTotal = 0;

  constructor(private readonly options: IngestOptions) {}

  private static emptyBatch(): IngestBatch {
    return { results: [], telemetry: [], statuses: [], modelReports: [], deadLetters: [], receivedAt: '' };
  }

  submit(topic: string, payload: Buffer, clientId: string): Promise<IngestOutcome> {
    let outcome: IngestOutcome = 'stored';
    try {
      const decoded = decodeMessage(topic, payload, this.options.maxPayloadBytes);
      this.add(decoded.kind, decoded.message);
      this.options.metrics?.ingested.inc({ kind: decoded.kind, outcome: 'accepted' });
    } catch (error) {
      const vigil = asVigilError(error);
      this.batch.deadLetters.push(this.deadLetter(topic, payload, clientId, vigil));
      const rejected = rejectedResult(topic, payload, vigil);
      if (rejected) this.rejected.push(rejected);
      this.options.metrics?.ingested.inc({ kind: 'unknown', outcome: 'dead-letter' });
      this.options.logger.warn({ code: vigil.code, topic: topic.slice(0, 200), clientId }, `dead-lettered: ${vigil.message}`);
      outcome = 'dead-lettered';
    }
    return new Promise<IngestOutcome>((resolve, reject) => {
      this.waiters.push({ resolve, reject, outcome });
      this.schedule();
    });
  }

  private add(kind: string, message: unknown): void {
    switch (kind) {
      case 'results': {
        const r = message as ResultMessage;
        assertPlausibleStudyDate(r, Date.now());
        // The same id twice in one batch is one row; the store's key catches replays across batches.
        if (this.inBatch.has(r.messageId)) return;
        this.inBatch.add(r.messageId);
        this.batch.results.push(r);
        this.points.push(...resultPoints(r));
        return;
      }
      case 'telemetry': {
        const t = message as TelemetryMessage;
        this.batch.telemetry.push(t);
        this.points.push(...telemetryPoints(t));
        return;
      }
      case 'status':
        this.batch.statuses.push(message as StatusMessage);
        return;
      case 'model/reported':
        this.batch.modelReports.push(message as ModelReportedMessage);
        return;
      default:
        throw new VigilError('VIGIL_TOPIC_INVALID', `devices do not publish ${kind}`);
    }
  }

  private deadLetter(topic: string, payload: Buffer, clientId: string, error: VigilError): DeadLetter {
    return {
      receivedAt: new Date().toISOString(),
      topic: topic.slice(0, 512),
      clientId,
      code: error.code,
      reason: error.message.slice(0, 2000),
      payloadBytes: payload.byteLength,
      payloadSha256: createHash('sha256').update(payload).digest('hex'),
      payloadExcerpt: payload.subarray(0, EXCERPT_BYTES),
    };
  }

  private schedule(): void {
    if (this.waiters.length >= this.options.batchSize) {
      this.flushWhenFree();
      return;
    }
    this.timer ??= setTimeout(() => this.flushWhenFree(), this.options.maxWaitMs);
  }

  /** Flushes now, unless the limit of commits in flight is reached: then the next one to finish does. */
  private flushWhenFree(): void {
    const limit = this.options.maxCommitsInFlight ?? 0;
    if (limit > 0 && this.inFlight.size >= limit) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      return;
    }
    void this.flush();
  }

  /** Commits what is queued. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.waiters.length === 0) return Promise.all(this.inFlight).then(() => undefined);
    const batch = this.batch;
    const points = this.points;
    const waiters = this.waiters;
    const rejected = this.rejected;
    this.batch = IngestPipeline.emptyBatch();
    this.points = [];
    this.rejected = [];
    this.waiters = [];
    this.inBatch = new Set();
    // Batches are not serialised: a batch's synchronous part runs now, and its disk flush overlaps
    // the next batch's reception. Ordering between batches does not matter: results are keyed by
    // id and device state only moves forward in time.
    const committed = this.commit(batch, points, waiters, rejected);
    this.inFlight.add(committed);
    void committed.finally(() => {
      this.inFlight.delete(committed);
      // What arrived while the limit held goes now, as one batch.
      if (this.waiters.length > 0 && !this.timer) this.flushWhenFree();
    });
    return committed;
  }

  private async commit(
    batch: IngestBatch,
    points: HistoryPoint[],
    waiters: Pending[],
    rejected: RejectedResult[],
  ): Promise<void> {
    const started = performance.now();
    batch.receivedAt = new Date().toISOString();
    try {
      // Both stores commit, then flush to disk concurrently. If either fails nothing is
      // acknowledged; the replay is harmless (results are keyed by id, history points by series
      // and timestamp).
      const [, summary] = await Promise.all([
        points.length > 0 ? this.options.history.write(points) : Promise.resolve(),
        this.options.state.commitIngest(batch),
      ]);
      this.storedTotal += summary.resultsInserted + batch.telemetry.length + batch.statuses.length + batch.modelReports.length;
      this.duplicateTotal += summary.resultsDuplicate;
      this.deadLetterTotal += batch.deadLetters.length;
      this.options.metrics?.duplicates.inc(summary.resultsDuplicate);
      this.options.metrics?.batchSeconds.observe((performance.now() - started) / 1000);
      for (const w of waiters) w.resolve(w.outcome);
      this.options.onCommitted?.(batch, rejected);
    } catch (error) {
      const vigil = asVigilError(error, 'VIGIL_STATE_STORE_UNAVAILABLE');
      this.options.logger.error({ code: vigil.code, messages: waiters.length }, `ingest batch not committed: ${vigil.message}`);
      this.options.metrics?.ingestFailures.inc();
      for (const w of waiters) w.reject(vigil);
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
  }
}
