import { VigilError } from '@vigil/shared';
import type Database from 'better-sqlite3';
import {
  type HistoryPoint,
  type HistoryQuery,
  type HistorySample,
  type HistoryStore,
  seriesKey,
} from '../../history/history-store.js';
import { DurableSqlite } from './durable-sqlite.js';

/**
 * Embedded history store for single-box deployments and the demo. Writing the same point twice
 * (same measurement, series and timestamp) replaces it, as InfluxDB does, so redelivery is harmless.
 */
export class SqliteHistoryStore implements HistoryStore {
  readonly driver = 'embedded';
  private readonly store: DurableSqlite;
  private readonly db: Database.Database;
  private readonly insert: Database.Statement;

  constructor(path: string) {
    this.store = new DurableSqlite(path);
    this.db = this.store.db;
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS points (
        measurement TEXT NOT NULL,
        series TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        tags_json TEXT NOT NULL,
        fields_json TEXT NOT NULL,
        PRIMARY KEY (measurement, series, ts_ns)
      ) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS points_time ON points (measurement, ts_ns);
    `);
    this.db.defaultSafeIntegers(false);
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO points (measurement, series, ts_ns, tags_json, fields_json) VALUES (?, ?, ?, ?, ?)',
    );
  }

  async write(points: readonly HistoryPoint[]): Promise<void> {
    try {
      this.db.transaction(() => {
        for (const p of points) {
          this.insert.run(p.measurement, seriesKey(p.tags), p.timestampNs, JSON.stringify(p.tags), JSON.stringify(p.fields));
        }
      })();
      await this.store.durable();
    } catch (error) {
      throw new VigilError('VIGIL_HISTORY_STORE_UNAVAILABLE', `embedded history write failed: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }

  async query(q: HistoryQuery): Promise<HistorySample[]> {
    const rows = this.db
      .prepare(
        `SELECT ts_ns, tags_json, json_extract(fields_json, '$.' || ?) AS value FROM points
         WHERE measurement = ? AND ts_ns >= ? AND ts_ns <= ? ORDER BY ts_ns`,
      )
      .safeIntegers(true)
      .all(q.field, q.measurement, BigInt(q.fromMs) * 1_000_000n, BigInt(q.toMs) * 1_000_000n + 999_999n) as {
      ts_ns: bigint;
      tags_json: string;
      value: number | bigint | null;
    }[];
    const out: HistorySample[] = [];
    for (const row of rows) {
      if (row.value === null) continue;
      const tags = JSON.parse(row.tags_json) as Record<string, string>;
      if (q.tags && Object.entries(q.tags).some(([k, v]) => tags[k] !== v)) continue;
      out.push({ timestampMs: Number(row.ts_ns / 1_000_000n), value: Number(row.value), tags });
      if (q.limit !== undefined && out.length >= q.limit) break;
    }
    return out;
  }

  pendingPoints(): number {
    return 0;
  }

  async ping(): Promise<boolean> {
    this.db.prepare('SELECT 1').get();
    return true;
  }

  start(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
