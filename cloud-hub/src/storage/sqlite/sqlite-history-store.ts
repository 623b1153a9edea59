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
 * The table's layout: version 1 keys points by (measurement, time, series), so the time-range query
 * reads the primary key and an insert touches one B-tree. Version 0 keyed them by (measurement,
 * series, time) and kept a second index for time (an insert touched two): opening a version-0 file
 * rebuilds it once.
 */
const LAYOUT = 1;
/** Distinct tag sets whose series key and JSON are kept (tags are low-cardinality: clinic, device, model). */
const TAG_CACHE_LIMIT = 4096;

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
    this.createOrUpgrade();
    this.db.defaultSafeIntegers(false);
    this.insert = this.db.prepare(
      'INSERT OR REPLACE INTO points (measurement, series, ts_ns, tags_json, fields_json) VALUES (?, ?, ?, ?, ?)',
    );
  }

  private createOrUpgrade(): void {
    const table = (name: string) =>
      `CREATE TABLE ${name} (
        measurement TEXT NOT NULL,
        ts_ns INTEGER NOT NULL,
        series TEXT NOT NULL,
        tags_json TEXT NOT NULL,
        fields_json TEXT NOT NULL,
        PRIMARY KEY (measurement, ts_ns, series)
      ) WITHOUT ROWID`;
    const exists = this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'points'").get();
    const layout = this.db.pragma('user_version', { simple: true }) as number;
    this.db.transaction(() => {
      if (!exists) this.db.exec(table('points'));
      else if (layout < LAYOUT) {
        this.db.exec(`${table('points_next')};
          INSERT INTO points_next (measurement, ts_ns, series, tags_json, fields_json)
            SELECT measurement, ts_ns, series, tags_json, fields_json FROM points;
          DROP TABLE points;
          ALTER TABLE points_next RENAME TO points;`);
      }
      this.db.pragma(`user_version = ${LAYOUT}`);
    })();
  }

  private readonly tagCache = new Map<string, { series: string; json: string }>();
  /** A tag set's series key and JSON, computed once per distinct set (two of the insert's costs). */
  private tagsOf(tags: Record<string, string>): { series: string; json: string } {
    // Length-prefixed, so no two different tag sets can spell the same key.
    let key = '';
    for (const name in tags) {
      const value = tags[name] as string;
      key += `${name.length}:${name}${value.length}:${value}`;
    }
    let cached = this.tagCache.get(key);
    if (!cached) {
      if (this.tagCache.size >= TAG_CACHE_LIMIT) this.tagCache.clear();
      cached = { series: seriesKey(tags), json: JSON.stringify(tags) };
      this.tagCache.set(key, cached);
    }
    return cached;
  }

  async write(points: readonly HistoryPoint[]): Promise<void> {
    try {
      this.db.transaction(() => {
        for (const p of points) {
          const tags = this.tagsOf(p.tags);
          this.insert.run(p.measurement, tags.series, p.timestampNs, tags.json, JSON.stringify(p.fields));
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
