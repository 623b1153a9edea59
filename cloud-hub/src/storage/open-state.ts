import type { EventRelay } from '../events/event-relay.js';
import type { FollowupStore } from '../followup/followup-store.js';
import type { StateLocation, StateStore } from '../state/state-store.js';
import { PgEventRelay } from './postgres/pg-event-relay.js';
import { PgFollowupStore } from './postgres/pg-followup-store.js';
import { PgSqlPort } from './postgres/pg-sql-port.js';
import { openPgPool, PgStateStore } from './postgres/pg-state-store.js';
import { DurableSqlite } from './sqlite/durable-sqlite.js';
import { SqliteFollowupStore } from './sqlite/sqlite-followup-store.js';
import { SqliteSqlPort } from './sqlite/sqlite-sql-port.js';
import { SqliteStateStore } from './sqlite/sqlite-state-store.js';
import { stateDurable } from './sqlite/sqlite-wrap.js';

/**
 * The hub's state store on the engine the location names. Call `open()` before use: it connects
 * and runs migrations (SQLite's run in the constructor, and checkpoints start there).
 */
export function openStateStore(location: StateLocation): StateStore {
  return location.driver === 'postgres' ? new PgStateStore(location) : new SqliteStateStore(location.path);
}

/**
 * A second connection that serves only follow-up (the follow-up worker thread): it reads results and
 * writes patients and alerts; migrations (and SQLite's checkpoints) stay with the hub's own store.
 */
export function openFollowupStore(location: StateLocation): { store: FollowupStore; close(): Promise<void> } {
  if (location.driver === 'postgres') {
    const pool = openPgPool(location, 2);
    return { store: new PgFollowupStore(pool, new PgSqlPort(pool)), close: () => pool.end() };
  }
  const sqlite = new DurableSqlite(location.path, { secondaryConnection: true });
  const durable = stateDurable(sqlite);
  return {
    store: new SqliteFollowupStore(sqlite.db, durable, new SqliteSqlPort(sqlite.db, durable)),
    close: () => sqlite.close(),
  };
}

/**
 * The relay that carries hub events between replicas sharing this state (PostgreSQL's
 * LISTEN/NOTIFY); none for SQLite, whose state one process owns.
 */
export function openEventRelay(location: StateLocation, origin: string, onError: (error: Error) => void): EventRelay | undefined {
  return location.driver === 'postgres' ? new PgEventRelay(location, origin, onError) : undefined;
}
