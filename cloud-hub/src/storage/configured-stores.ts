// The hub's stores as its configuration names them: the engine is chosen here, in storage/, so the
// composition root (hub.ts) only wires.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '@vigil/shared';
import { type HubConfig, statePassword } from '../config.js';
import type { HistoryStore } from '../history/history-store.js';
import type { StateLocation, StateStore } from '../state/state-store.js';
import { InfluxHistoryStore } from './influx/influx-history-store.js';
import { openStateStore } from './open-state.js';
import { SqliteHistoryStore } from './sqlite/sqlite-history-store.js';

export function stateLocation(config: HubConfig): StateLocation {
  const s = config.state;
  if (s.driver === 'sqlite') return { driver: 'sqlite', path: s.sqlitePath || join(config.dataDir, 'state.sqlite') };
  return {
    driver: 'postgres',
    url: withPassword(s.url, statePassword(config)),
    sslmode: s.sslmode,
    caFile: s.caFile,
    poolSize: s.poolSize,
    connectTimeoutMs: s.connectTimeoutMs,
    statementTimeoutMs: s.statementTimeoutMs,
  };
}

function withPassword(url: string, password: string): string {
  if (!password) return url;
  try {
    const u = new URL(url);
    u.password = password;
    return u.toString();
  } catch {
    return url; // the store reports the malformed URL, naming state.url
  }
}

/** The configured state store, not yet opened (the Hub opens it in `start()`). */
export function configuredStateStore(config: HubConfig, location = stateLocation(config)): StateStore {
  mkdirSync(config.dataDir, { recursive: true });
  return openStateStore(location);
}

/** The configured state store, connected and migrated (CLI commands, tools). */
export async function openConfiguredState(config: HubConfig): Promise<StateStore> {
  const state = configuredStateStore(config);
  try {
    await state.open();
  } catch (error) {
    await state.close().catch(() => undefined);
    throw error;
  }
  return state;
}

/** The history store the configuration names: InfluxDB (buffered to disk while it is down) or embedded SQLite. */
export function configuredHistoryStore(config: HubConfig, logger: Logger): HistoryStore {
  return config.history.driver === 'influxdb'
    ? new InfluxHistoryStore({ ...config.history.influx, bufferPath: join(config.dataDir, 'influx-buffer.sqlite'), logger })
    : new SqliteHistoryStore(join(config.dataDir, 'history.sqlite'));
}
