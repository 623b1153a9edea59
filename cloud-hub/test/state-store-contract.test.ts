// The state store's contract (issue 12): every query the API, ingest, follow-up, rollout controller
// and device registry use, with the same assertions on both engines — SQLite (better-sqlite3, the
// default) and a real PostgreSQL 15 started by the harness. Each test opens a fresh, empty store.
// The audit log's half of the contract is audit-store-contract.test.ts.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { syntheticResult } from '../../scripts/harness/result-factory.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import type { PostgresLocation, StateLocation, StateStore } from '../src/state/state-store.js';
import { openStateStore } from '../src/storage/open-state.js';
import { A, stateStoreContract } from './contract/state-store-contract.js';

const dir = makeTempDir('state-contract');
const server = new PostgresServer();
const opened: StateStore[] = [];
let databases = 0;

before(async () => {
  await server.start();
});
after(async () => {
  for (const store of opened) await store.close().catch(() => undefined);
  await server.dispose();
  dir.remove();
});

function postgresLocation(url: string): PostgresLocation {
  return {
    driver: 'postgres',
    url,
    sslmode: 'disable',
    caFile: '',
    poolSize: 4,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 30_000,
  };
}

/** A fresh, migrated store on the engine (its own SQLite file or PostgreSQL database). */
async function fresh(engine: string): Promise<StateStore> {
  databases += 1;
  const location: StateLocation =
    engine === 'sqlite'
      ? { driver: 'sqlite', path: join(dir.path, `state-${databases}.sqlite`) }
      : postgresLocation(server.createDatabase(`contract_${databases}`));
  const store = openStateStore(location);
  await store.open();
  opened.push(store);
  return store;
}

for (const engine of ['sqlite', 'postgres']) {
  stateStoreContract(engine, {
    fresh: () => fresh(engine),
    rawSql: async (store, sql) => {
      if (store.driver === 'sqlite') (store as unknown as { db: { exec(sql: string): void } }).db.exec(sql);
      else await (store as unknown as { pool: { query(sql: string): Promise<unknown> } }).pool.query(sql);
    },
  });
}

describe('PostgreSQL state store: start-up errors and outages', () => {
  it('a malformed URL and an unreachable server are coded errors naming state.url', async () => {
    assert.throws(
      () => openStateStore(postgresLocation('not a url')),
      (e: Error & { code?: string }) => {
        return e.code === 'VIGIL_CONFIG_INVALID' && /state\.url/.test(e.message);
      },
    );
    assert.throws(() => openStateStore(postgresLocation('mysql://h/db')), /state\.url/);
    const closed = openStateStore({ ...postgresLocation(`postgres://vigil:secret@127.0.0.1:1/nothing`), connectTimeoutMs: 2000 });
    await assert.rejects(closed.open(), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'VIGIL_STATE_STORE_UNAVAILABLE');
      assert.match(e.message, /state\.url/);
      assert.doesNotMatch(e.message, /secret/, 'the password is never echoed');
      return true;
    });
    await closed.close();
  });

  it('replicas starting together on an empty database migrate it once, neither failing', async () => {
    const url = server.createDatabase('racing_replicas');
    const stores = Array.from({ length: 4 }, () => openStateStore(postgresLocation(url)));
    opened.push(...stores);
    await Promise.all(stores.map((s) => s.open()));
    const check = openStateStore(postgresLocation(url));
    opened.push(check);
    await check.open();
    await check.addDevice({ ...A, passwordHash: 'h', tags: [] });
    assert.equal((await stores[0]?.listDevices())?.length, 1, 'one schema, shared');
  });

  it('while the server is down every call fails coded; afterwards the same store works, nothing doubled', async () => {
    const s = await fresh('postgres');
    const results = Array.from({ length: 10 }, (_, i) => syntheticResult(A, i));
    await s.commitIngest(ingestBatch({ results: results.slice(0, 5) }));
    await server.stop();
    try {
      await assert.rejects(s.commitIngest(ingestBatch({ results })), { code: 'VIGIL_STATE_STORE_UNAVAILABLE' });
      await assert.rejects(s.ping(), { code: 'VIGIL_STATE_STORE_UNAVAILABLE' });
      await assert.rejects(s.followup.listAlerts({ limit: 1 }), { code: 'VIGIL_STATE_STORE_UNAVAILABLE' });
    } finally {
      await server.start();
    }
    assert.deepEqual(await s.commitIngest(ingestBatch({ results })), { resultsInserted: 5, resultsDuplicate: 5 });
    assert.equal(await s.countResults(), 10);
  });
});
