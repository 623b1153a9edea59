import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '@vigil/shared';
import Database from 'better-sqlite3';
import { InfluxdServer } from '../../scripts/harness/influxd.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { type HistoryPoint, type HistoryStore, seriesKey } from '../src/history/history-store.js';
import { InfluxHistoryStore } from '../src/storage/influx/influx-history-store.js';
import { SqliteHistoryStore } from '../src/storage/sqlite/sqlite-history-store.js';

const logger = createLogger('test', { level: 'silent' });
const T0 = Date.UTC(2026, 10, 1);

function point(device: string, i: number, value: number): HistoryPoint {
  return {
    measurement: 'device_telemetry',
    tags: { clinic: 'clinic-a', device },
    fields: { cpu_utilization_pct: value, queue_depth: i },
    timestampNs: BigInt(T0 + i * 1000) * 1_000_000n,
  };
}

interface Adapter {
  name: string;
  open(): Promise<{ store: HistoryStore; settle(): Promise<void>; close(): Promise<void> }>;
}

let influxd: InfluxdServer;
const adapters: Adapter[] = [
  {
    name: 'embedded (SQLite)',
    async open() {
      const dir = makeTempDir('history');
      const store = new SqliteHistoryStore(join(dir.path, 'h.sqlite'));
      return {
        store,
        settle: async () => undefined,
        close: async () => {
          await store.close();
          dir.remove();
        },
      };
    },
  },
  {
    name: 'InfluxDB (real influxd, v1 API)',
    async open() {
      const dir = makeTempDir('history');
      const store = new InfluxHistoryStore({
        url: influxd.url,
        database: `contract_${Math.random().toString(36).slice(2, 8)}`,
        bufferPath: join(dir.path, 'buffer.sqlite'),
        batchSize: 500,
        flushIntervalMs: 20,
        logger,
      });
      await store.start();
      return {
        store,
        settle: async () => {
          assert.equal(await store.drain(10_000), 0, 'buffer drained');
        },
        close: async () => {
          await store.close();
          dir.remove();
        },
      };
    },
  },
];

before(async () => {
  influxd = new InfluxdServer();
  await influxd.start();
});
after(async () => {
  await influxd.dispose();
});

for (const adapter of adapters) {
  describe(`history store contract: ${adapter.name}`, () => {
    test('points written can be queried by field, tags and time range, in time order', async () => {
      const h = await adapter.open();
      try {
        await h.store.write([point('edge-1', 2, 30), point('edge-1', 0, 10), point('edge-1', 1, 20), point('edge-2', 1, 99)]);
        await h.settle();
        const rows = await h.store.query({
          measurement: 'device_telemetry',
          field: 'cpu_utilization_pct',
          tags: { device: 'edge-1' },
          fromMs: T0,
          toMs: T0 + 1500,
        });
        assert.deepEqual(
          rows.map((r) => [r.timestampMs - T0, r.value]),
          [
            [0, 10],
            [1000, 20],
          ],
        );
        assert.equal(rows[0]?.tags.device, 'edge-1');
        const all = await h.store.query({ measurement: 'device_telemetry', field: 'queue_depth', fromMs: T0, toMs: T0 + 10_000 });
        assert.equal(all.length, 4);
      } finally {
        await h.close();
      }
    });

    test('writing the same point twice keeps one (redelivery is idempotent)', async () => {
      const h = await adapter.open();
      try {
        await h.store.write([point('edge-1', 5, 1)]);
        await h.store.write([point('edge-1', 5, 2)]);
        await h.settle();
        const rows = await h.store.query({
          measurement: 'device_telemetry',
          field: 'cpu_utilization_pct',
          fromMs: T0,
          toMs: T0 + 10_000,
        });
        assert.deepEqual(
          rows.map((r) => r.value),
          [2],
        );
      } finally {
        await h.close();
      }
    });

    test('tag values with quotes and spaces round-trip', async () => {
      const h = await adapter.open();
      try {
        await h.store.write([{ ...point("it's a device", 1, 7), tags: { clinic: 'clinic a', device: "it's a device" } }]);
        await h.settle();
        const rows = await h.store.query({
          measurement: 'device_telemetry',
          field: 'cpu_utilization_pct',
          tags: { device: "it's a device" },
          fromMs: T0,
          toMs: T0 + 10_000,
        });
        assert.deepEqual(
          rows.map((r) => r.value),
          [7],
        );
      } finally {
        await h.close();
      }
    });
  });
}

test('InfluxDB outage: points are buffered durably (even across a hub restart) and backfilled when it returns', async () => {
  const dir = makeTempDir('influx-outage');
  const server = new InfluxdServer();
  await server.start();
  const options = {
    url: server.url,
    database: 'outage',
    bufferPath: join(dir.path, 'buffer.sqlite'),
    batchSize: 1000,
    flushIntervalMs: 20,
    logger,
  };
  let store = new InfluxHistoryStore(options);
  try {
    await store.start();
    await store.write(Array.from({ length: 100 }, (_, i) => point('edge-1', i, i)));
    assert.equal(await store.drain(10_000), 0);
    await server.stop();
    // InfluxDB is down: writes still resolve (durable locally) and wait.
    await store.write(Array.from({ length: 2400 }, (_, i) => point('edge-1', 100 + i, i)));
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(store.pendingPoints(), 2400);
    assert.equal(await store.ping(), false);
    assert.equal(store.lastError?.code, 'VIGIL_HISTORY_STORE_UNAVAILABLE');
    // The hub restarts while InfluxDB is still down: the buffer survives.
    await store.close();
    store = new InfluxHistoryStore(options);
    await store.start();
    assert.equal(store.pendingPoints(), 2400);
    await server.start();
    await waitFor('backfill', () => store.pendingPoints() === 0, 30_000);
    const count = (await server.query('outage', 'SELECT count(queue_depth) FROM device_telemetry')) as {
      results: { series: { values: [number, number][] }[] }[];
    };
    assert.equal(count.results[0]?.series[0]?.values[0]?.[1], 2500);
  } finally {
    await store.close();
    await server.dispose();
    dir.remove();
  }
});

test('a batch InfluxDB refuses as malformed is set aside with its reason and does not block later points', async () => {
  const dir = makeTempDir('influx-reject');
  const store = new InfluxHistoryStore({
    url: influxd.url,
    database: 'rejects',
    bufferPath: join(dir.path, 'buffer.sqlite'),
    batchSize: 10,
    flushIntervalMs: 20,
    logger,
  });
  try {
    await store.start();
    // A field whose type conflicts with the first write is refused by InfluxDB (HTTP 400).
    await store.write([point('edge-1', 1, 5)]);
    assert.equal(await store.drain(10_000), 0);
    await (store as unknown as { buffer: { push(lines: string[]): Promise<void> } }).buffer.push([
      `device_telemetry,clinic=clinic-a,device=edge-1 cpu_utilization_pct="not a number" ${BigInt(T0 + 9000) * 1_000_000n}`,
    ]);
    await store.write([point('edge-1', 3, 6)]);
    await waitFor('queue moves past the bad batch', () => store.pendingPoints() === 0, 10_000);
    assert.equal(store.rejectedPoints(), 1);
    const rows = await store.query({
      measurement: 'device_telemetry',
      field: 'cpu_utilization_pct',
      fromMs: T0,
      toMs: T0 + 10_000,
    });
    assert.deepEqual(
      rows.map((r) => r.value),
      [5, 6],
    );
  } finally {
    await store.close();
    dir.remove();
  }
});

test('embedded store: a file of the earlier layout (series-first key, time index) is rebuilt once, its points kept', async () => {
  const dir = makeTempDir('history');
  const file = join(dir.path, 'h.sqlite');
  const old = new Database(file);
  old.exec(`
    CREATE TABLE points (measurement TEXT NOT NULL, series TEXT NOT NULL, ts_ns INTEGER NOT NULL,
      tags_json TEXT NOT NULL, fields_json TEXT NOT NULL, PRIMARY KEY (measurement, series, ts_ns)) WITHOUT ROWID;
    CREATE INDEX points_time ON points (measurement, ts_ns);`);
  const insert = old.prepare('INSERT INTO points VALUES (?, ?, ?, ?, ?)');
  for (const [device, i, value] of [
    ['edge-1', 0, 10],
    ['edge-2', 1, 20],
  ] as const) {
    const p = point(device, i, value);
    insert.run(p.measurement, seriesKey(p.tags), p.timestampNs, JSON.stringify(p.tags), JSON.stringify(p.fields));
  }
  old.close();
  const query = { measurement: 'device_telemetry', field: 'cpu_utilization_pct', fromMs: T0, toMs: T0 + 10_000 };
  try {
    for (let open = 0; open < 2; open++) {
      const store = new SqliteHistoryStore(file);
      try {
        // Rewriting an old point replaces it; a new one is added; two tag sets with one value each,
        // under different tag names, are two series.
        await store.write([point('edge-1', 0, 11), { ...point('x', 2, 30), tags: { device: 'x' } }]);
        await store.write([{ ...point('x', 2, 31), tags: { clinic: 'x' } }]);
        assert.deepEqual(
          (await store.query(query))
            .map((r): [number, number] => [r.timestampMs - T0, r.value])
            .sort((a, b) => a[0] - b[0] || a[1] - b[1]),
          [
            [0, 11],
            [1000, 20],
            [2000, 30],
            [2000, 31],
          ],
        );
      } finally {
        await store.close();
      }
    }
    const check = new Database(file, { readonly: true });
    const indexes = check.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'points'").all();
    const plan = check
      .prepare('EXPLAIN QUERY PLAN SELECT ts_ns FROM points WHERE measurement = ? AND ts_ns >= ? AND ts_ns <= ?')
      .all('device_telemetry', 0, 1) as { detail: string }[];
    check.close();
    assert.deepEqual(indexes, [], 'no second index: the key serves the time-range query');
    assert.match(
      plan.map((row) => row.detail).join('; '),
      /SEARCH points USING PRIMARY KEY \(measurement=\? AND ts_ns>\? AND ts_ns<\?\)/,
    );
  } finally {
    dir.remove();
  }
});
