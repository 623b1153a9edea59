import { setTimeout as sleep } from 'node:timers/promises';
import { HttpError, InfluxDB, Point } from '@influxdata/influxdb-client';
import { backoffDelay, type Logger, VigilError } from '@vigil/shared';
import type { HistoryPoint, HistoryQuery, HistorySample, HistoryStore } from '../../history/history-store.js';
import { DurableLineBuffer } from './durable-line-buffer.js';

export interface InfluxHistoryOptions {
  url: string;
  database: string;
  username?: string;
  password?: string;
  retentionPolicy?: string;
  bufferPath: string;
  batchSize: number;
  flushIntervalMs: number;
  requestTimeoutMs?: number;
  logger: Logger;
}

/** InfluxQL string literal. */
function quoteString(value: string): string {
  return `'${value.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
}

function quoteIdent(value: string): string {
  return `"${value.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`;
}

/**
 * InfluxDB adapter over the v1 endpoints (`/write`, `/query`, `/ping`) that InfluxDB 1.x, 2.x (DBRP
 * mapping) and 3.x all serve. `@influxdata/influxdb-client` supplies line-protocol encoding, the
 * HTTP transport and its retry classification; its own write API is not used because it posts to
 * `/api/v2/write`, which 1.x lacks. Points go first to a durable local buffer, then in batches to
 * InfluxDB, retried with backoff until accepted.
 */
export class InfluxHistoryStore implements HistoryStore {
  readonly driver = 'influxdb';
  private readonly influx: InfluxDB;
  private readonly buffer: DurableLineBuffer;
  private stopped = false;
  private wake: (() => void) | undefined;
  private loop: Promise<void> | undefined;
  private failures = 0;
  private reachable = false;
  lastError: VigilError | undefined;

  constructor(private readonly options: InfluxHistoryOptions) {
    this.influx = new InfluxDB({ url: options.url, timeout: options.requestTimeoutMs ?? 10_000 });
    this.buffer = new DurableLineBuffer(options.bufferPath);
  }

  private params(extra: Record<string, string>): string {
    const p = new URLSearchParams({ db: this.options.database, ...extra });
    if (this.options.username) p.set('u', this.options.username);
    if (this.options.password) p.set('p', this.options.password);
    if (this.options.retentionPolicy) p.set('rp', this.options.retentionPolicy);
    return p.toString();
  }

  /** Creates the database when the server allows it (1.x); 2.x/3.x map it through DBRP instead. */
  async start(): Promise<void> {
    try {
      await this.influxQl(`CREATE DATABASE ${quoteIdent(this.options.database)}`, 'POST');
    } catch (error) {
      this.options.logger.warn(
        { code: 'VIGIL_HISTORY_STORE_UNAVAILABLE', err: (error as Error).message },
        'could not ensure InfluxDB database; buffering until it is reachable',
      );
    }
    this.loop = this.flushLoop();
  }

  static toLine(point: HistoryPoint): string | undefined {
    const p = new Point(point.measurement);
    for (const [k, v] of Object.entries(point.tags)) p.tag(k, v);
    for (const [k, v] of Object.entries(point.fields)) if (Number.isFinite(v)) p.floatField(k, v);
    p.timestamp(point.timestampNs.toString());
    return p.toLineProtocol();
  }

  async write(points: readonly HistoryPoint[]): Promise<void> {
    const lines = points.map((p) => InfluxHistoryStore.toLine(p)).filter((l): l is string => l !== undefined);
    if (lines.length === 0) return;
    try {
      await this.buffer.push(lines);
    } catch (error) {
      throw new VigilError('VIGIL_HISTORY_STORE_UNAVAILABLE', `history buffer write failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    if (this.buffer.size() >= this.options.batchSize) this.wake?.();
  }

  private async flushLoop(): Promise<void> {
    while (!this.stopped) {
      const flushed = await this.flushOnce();
      if (this.stopped) break;
      if (flushed > 0 && this.buffer.size() > 0) continue;
      const delay = this.failures > 0 ? backoffDelay(this.failures, { minMs: 200, maxMs: 10_000 }) : this.options.flushIntervalMs;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** Sends one batch; returns how many lines left the buffer. */
  async flushOnce(): Promise<number> {
    const { lastSeq, lines, seqs } = this.buffer.head(this.options.batchSize);
    if (lines.length === 0) return 0;
    try {
      await this.writeIsolatingRejects(lines, seqs);
      this.buffer.confirm(lastSeq, lines.length);
      if (this.failures > 0) this.options.logger.info({ backlog: this.buffer.size() }, 'InfluxDB reachable again; backfilling');
      this.failures = 0;
      this.reachable = true;
      if (this.lastError?.code === 'VIGIL_HISTORY_STORE_UNAVAILABLE') this.lastError = undefined;
      return lines.length;
    } catch (error) {
      this.failures += 1;
      this.reachable = false;
      this.lastError = new VigilError(
        'VIGIL_HISTORY_STORE_UNAVAILABLE',
        `InfluxDB write failed, will retry: ${(error as Error).message}`,
      );
      if (this.failures === 1 || this.failures % 20 === 0) {
        this.options.logger.warn(
          { code: this.lastError.code, backlog: this.buffer.size(), failures: this.failures },
          this.lastError.message,
        );
      }
      return 0;
    }
  }

  private post(lines: readonly string[]): Promise<unknown> {
    return this.influx.transport.request(`/write?${this.params({ precision: 'ns' })}`, lines.join('\n'), {
      method: 'POST',
      headers: { 'content-type': 'text/plain; charset=utf-8' },
      gzipThreshold: 64 * 1024,
    });
  }

  /**
   * A 400 means InfluxDB refused some points as malformed (it still stores the valid ones). The
   * batch is split in halves until each refused line is alone; those are set aside with the reason
   * so they cannot block the queue. Re-sending accepted points is harmless: writes are idempotent.
   * Anything else (down, 5xx, auth) throws, and the batch stays buffered for a retry.
   */
  private async writeIsolatingRejects(lines: string[], seqs: number[]): Promise<void> {
    try {
      await this.post(lines);
    } catch (error) {
      const status = error instanceof HttpError ? error.statusCode : undefined;
      if (status !== 400) throw error;
      if (lines.length > 1) {
        const mid = Math.ceil(lines.length / 2);
        await this.writeIsolatingRejects(lines.slice(0, mid), seqs.slice(0, mid));
        await this.writeIsolatingRejects(lines.slice(mid), seqs.slice(mid));
        return;
      }
      this.lastError = new VigilError('VIGIL_HISTORY_WRITE_REJECTED', `InfluxDB refused a point: ${(error as Error).message}`);
      this.buffer.setAside(seqs, lines, this.lastError.message);
      this.options.logger.error({ code: this.lastError.code }, this.lastError.message);
    }
  }

  private async influxQl(q: string, method: 'GET' | 'POST'): Promise<unknown> {
    const path = `/query?${this.params({ q, epoch: 'ms' })}`;
    return this.influx.transport.request(path, method === 'POST' ? '' : undefined, { method });
  }

  async query(q: HistoryQuery): Promise<HistorySample[]> {
    const where = [`time >= ${q.fromMs}ms`, `time <= ${q.toMs}ms`];
    for (const [k, v] of Object.entries(q.tags ?? {})) where.push(`${quoteIdent(k)} = ${quoteString(v)}`);
    const text =
      `SELECT ${quoteIdent(q.field)} FROM ${quoteIdent(q.measurement)} WHERE ${where.join(' AND ')} GROUP BY * ORDER BY time ASC` +
      (q.limit ? ` LIMIT ${Math.floor(q.limit)}` : '');
    let response: {
      results?: { series?: { tags?: Record<string, string>; values: [number, number | null][] }[]; error?: string }[];
    };
    try {
      response = (await this.influxQl(text, 'GET')) as typeof response;
    } catch (error) {
      throw new VigilError('VIGIL_HISTORY_STORE_UNAVAILABLE', `InfluxDB query failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
    const result = response.results?.[0];
    if (result?.error) throw new VigilError('VIGIL_HISTORY_STORE_UNAVAILABLE', `InfluxDB query error: ${result.error}`);
    const out: HistorySample[] = [];
    for (const series of result?.series ?? []) {
      for (const [ts, value] of series.values) {
        if (value !== null) out.push({ timestampMs: ts, value, tags: series.tags ?? {} });
      }
    }
    return out.sort((a, b) => a.timestampMs - b.timestampMs);
  }

  pendingPoints(): number {
    return this.buffer.size();
  }

  rejectedPoints(): number {
    return this.buffer.rejectedCount();
  }

  get isReachable(): boolean {
    return this.reachable;
  }

  async ping(): Promise<boolean> {
    try {
      await this.influx.transport.request('/ping', undefined, { method: 'GET' });
      return true;
    } catch {
      return false;
    }
  }

  /** Waits until the buffer is empty or the timeout passes; returns the points still pending. */
  async drain(timeoutMs: number): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.size() > 0 && Date.now() < deadline) {
      this.wake?.();
      await sleep(50);
    }
    return this.buffer.size();
  }

  async close(): Promise<void> {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    await this.buffer.close();
  }
}
