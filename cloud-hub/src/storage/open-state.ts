import type { FollowupStore } from '../followup/followup-store.js';
import type { StateLocation, StateStore } from '../state/state-store.js';
import { DurableSqlite } from './sqlite/durable-sqlite.js';
import { SqliteFollowupStore } from './sqlite/sqlite-followup-store.js';
import { SqliteStateStore } from './sqlite/sqlite-state-store.js';
import { stateDurable } from './sqlite/sqlite-wrap.js';

/** The hub's state store on the engine the location names (runs migrations, owns checkpoints). */
export function openStateStore(location: StateLocation): StateStore {
  return new SqliteStateStore(location.path);
}

/**
 * A second connection that serves only follow-up (the follow-up worker thread): it reads results and
 * writes patients and alerts; migrations and checkpoints stay with the hub's own connection.
 */
export function openFollowupStore(location: StateLocation): { store: FollowupStore; close(): Promise<void> } {
  const sqlite = new DurableSqlite(location.path, { secondaryConnection: true });
  return { store: new SqliteFollowupStore(sqlite.db, stateDurable(sqlite)), close: () => sqlite.close() };
}
