/** A time-series point. Tags are low-cardinality (clinic, device, model): never a patient key. */
export interface HistoryPoint {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, number>;
  /** Nanoseconds since the epoch, as a bigint so sub-millisecond offsets survive. */
  timestampNs: bigint;
}

export interface HistoryQuery {
  measurement: string;
  field: string;
  tags?: Record<string, string>;
  fromMs: number;
  toMs: number;
  limit?: number;
}

export interface HistorySample {
  timestampMs: number;
  value: number;
  tags: Record<string, string>;
}

/**
 * Time series of telemetry and inference metrics. `write` resolves once the points are durable
 * (in the store itself or in a local buffer that backfills it), never before.
 */
export interface HistoryStore {
  readonly driver: string;
  /** Connects (and starts backfilling from a local buffer); the embedded store has nothing to do. */
  start(): Promise<void>;
  write(points: readonly HistoryPoint[]): Promise<void>;
  query(query: HistoryQuery): Promise<HistorySample[]>;
  /** Points accepted but not yet in the backing store (0 for the embedded store). */
  pendingPoints(): number;
  ping(): Promise<boolean>;
  close(): Promise<void>;
}

export function seriesKey(tags: Record<string, string>): string {
  return Object.keys(tags)
    .sort()
    .map((k) => `${k}=${tags[k]}`)
    .join(',');
}
