import { join } from 'node:path';
import { Hub, loadHubConfig } from '@vigil/cloud-hub';
import { type EdgeConfig, loadEdgeConfig } from '@vigil/edge-agent';
import type { Logger } from '@vigil/shared';
import Database from 'better-sqlite3';
import pg from 'pg';
import { PostgresServer } from './postgres.js';
import { makeTempDir } from './temp-dir.js';

export interface TestHub {
  hub: Hub;
  dataDir: string;
  mqttUrl: string;
  httpUrl: string;
  /** The state engine this hub runs on (see `testStateEngine`). */
  engine: 'sqlite' | 'postgres';
  /** Its state settings: another hub started with them is a replica on the same database. */
  state: Record<string, unknown>;
  addDevice(clinicId: string, deviceId: string): Promise<string>;
  /** Runs one SQL statement on the hub's state database behind its back (tamper tests). */
  sql(statement: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * The state engine test hubs run on: SQLite unless VIGIL_TEST_STATE=postgres, which the
 * `*.postgres.test.ts` files set before importing a suite, so the same tests run on both engines.
 */
export function testStateEngine(): 'sqlite' | 'postgres' {
  return process.env.VIGIL_TEST_STATE === 'postgres' ? 'postgres' : 'sqlite';
}

let postgres: PostgresServer | undefined;
let databases = 0;

/** One PostgreSQL server per test process, one database per hub; stopped when the process exits. */
async function postgresDatabase(): Promise<string> {
  if (!postgres) {
    const server = new PostgresServer();
    await server.start();
    postgres = server;
  }
  databases += 1;
  return postgres.createDatabase(`hub_${process.pid}_${databases}`);
}

/** An in-process hub on free loopback ports with its own temp data directory (and database). */
export async function startTestHub(
  base: Record<string, unknown> = {},
  env: NodeJS.ProcessEnv = {},
  options: { logger?: Logger } = {},
): Promise<TestHub> {
  const dir = makeTempDir('hub');
  const engine = testStateEngine();
  const state = engine === 'postgres' ? { state: { driver: 'postgres', url: await postgresDatabase() } } : {};
  const config = loadHubConfig(undefined, env, {
    dataDir: join(dir.path, 'hub'),
    http: { port: 0 },
    ...state,
    ...base,
    mqtt: { listen: { port: 0 }, ...((base.mqtt as object | undefined) ?? {}) },
  });
  const hub = new Hub(config, options);
  await hub.start();
  return {
    hub,
    dataDir: config.dataDir,
    mqttUrl: `mqtt://127.0.0.1:${hub.mqttPorts.plain}`,
    httpUrl: `http://127.0.0.1:${hub.httpPort}`,
    engine,
    state: { ...config.state },
    addDevice: async (clinicId, deviceId) => (await hub.registry.add({ clinicId, deviceId })).password,
    sql: async (statement) => {
      if (config.state.driver === 'postgres') {
        const client = new pg.Client({ connectionString: config.state.url });
        await client.connect();
        try {
          await client.query(statement);
        } finally {
          await client.end();
        }
        return;
      }
      const db = new Database(join(config.dataDir, 'state.sqlite'));
      try {
        db.exec(statement);
      } finally {
        db.close();
      }
    },
    stop: async () => {
      await hub.stop();
      dir.remove();
    },
  };
}

/** Environment variables that configure an edge agent for a device (usable for child processes too). */
export function edgeEnv(options: {
  clinicId: string;
  deviceId: string;
  password: string;
  mqttUrl: string;
  dataDir: string;
  telemetryIntervalS?: number;
}): Record<string, string> {
  return {
    VIGIL_CLINIC_ID: options.clinicId,
    VIGIL_DEVICE_ID: options.deviceId,
    VIGIL_DATA_DIR: options.dataDir,
    VIGIL_MQTT__URL: options.mqttUrl,
    VIGIL_MQTT__PASSWORD: options.password,
    VIGIL_MQTT__RECONNECT_MIN_MS: '100',
    VIGIL_MQTT__RECONNECT_MAX_MS: '1000',
    VIGIL_TELEMETRY__INTERVAL_S: String(options.telemetryIntervalS ?? 3600),
  };
}

export function edgeConfig(options: Parameters<typeof edgeEnv>[0], extraEnv: Record<string, string> = {}): EdgeConfig {
  return loadEdgeConfig(undefined, { ...edgeEnv(options), ...extraEnv });
}
