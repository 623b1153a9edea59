import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { DeviceRegistry, loadHubConfig, openConfiguredState } from '@vigil/cloud-hub';
import { MqttPublisher, Outbox } from '@vigil/edge-agent';
import { createLogger, encodeMessage, fleetFilter, topicFor } from '@vigil/shared';
import Database from 'better-sqlite3';
import mqtt from 'mqtt';
import pg from 'pg';
import { freePort } from '../harness/free-port.js';
import { HubProcess, replicaEnv } from '../harness/hub-process.js';
import { InfluxdServer } from '../harness/influxd.js';
import { HUB_ACCOUNT, MosquittoServer, startMosquittoForDevices } from '../harness/mosquitto.js';
import { PostgresServer } from '../harness/postgres.js';
import { syntheticResult } from '../harness/result-factory.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { waitFor } from '../harness/wait-for.js';
import { CpuMeter, cpuSeconds, ownCpuSeconds, threadCpu, treeCpuSeconds } from './cpu-time.js';
import { progress, round, summarise } from './stats.js';

const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 10);
const PER_CLIENT = Number(process.env.BENCH_MESSAGES ?? 3000);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 100);
const silent = createLogger('bench', { level: 'silent' });

function payloads(deviceIndex: number, perClient = PER_CLIENT) {
  const address = { clinicId: `clinic-${deviceIndex % 3}`, deviceId: `edge-${deviceIndex}` };
  return { address, results: Array.from({ length: perClient }, (_, i) => syntheticResult(address, i, 512)) };
}

/** Baseline: the same broker (aedes) with no auth and no ingest, same clients, payloads and window. */
async function rawAedes(): Promise<{ msgsPerS: number; seconds: number; cpuUsPerMessage: Record<string, number> }> {
  const port = await freePort();
  const brokerProcess = spawn(
    process.execPath,
    ['--import', 'tsx', join(import.meta.dirname, 'raw-broker-process.ts'), String(port)],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  await new Promise<void>((resolve) => brokerProcess.stdout.once('data', () => resolve()));
  const url = `mqtt://127.0.0.1:${port}`;
  const subscriber = await mqtt.connectAsync(url, { clientId: 'raw-sub' });
  let received = 0;
  subscriber.on('message', () => {
    received += 1;
  });
  await subscriber.subscribeAsync(fleetFilter('results'), { qos: 1 });
  const sets = Array.from({ length: CLIENTS }, (_, i) => payloads(i));
  const publishers = await Promise.all(sets.map((s) => mqtt.connectAsync(url, { clientId: `raw-${s.address.deviceId}` })));
  const total = CLIENTS * PER_CLIENT;
  const brokerPid = brokerProcess.pid as number;
  const cpu = new CpuMeter({ broker: () => cpuSeconds(brokerPid), clientsAndSubscriber: ownCpuSeconds });
  cpu.start();
  const started = performance.now();
  await Promise.all(
    publishers.map(
      (client, c) =>
        new Promise<void>((resolve) => {
          const set = sets[c] as (typeof sets)[0];
          const topic = topicFor(set.address, 'results');
          let next = 0;
          let acked = 0;
          const sendOne = () => {
            const r = set.results[next++];
            if (!r) return;
            client.publish(topic, encodeMessage(r), { qos: 1 }, () => {
              acked += 1;
              if (acked === PER_CLIENT) resolve();
              else sendOne();
            });
          };
          for (let i = 0; i < WINDOW; i++) sendOne();
        }),
    ),
  );
  await waitFor('raw subscriber received all', () => received >= total, 60_000, 1);
  const seconds = (performance.now() - started) / 1000;
  const cpuUsPerMessage = cpu.stop(total);
  await Promise.all([...publishers, subscriber].map((c) => c.endAsync()));
  brokerProcess.kill('SIGTERM');
  return { msgsPerS: round(total / seconds, 0), seconds: round(seconds, 3), cpuUsPerMessage };
}

/** Edge outboxes (prefilled) → MQTT → hub ingest → durable state + history, acknowledged after commit. */
interface BenchHub {
  mqttUrl: string;
  pid: number;
  /** Every process doing the hub's work (replicas), when more than `pid`. */
  pids?: number[];
  addDevice(clinicId: string, deviceId: string): Promise<string>;
  committedResults(): number | Promise<number>;
  /** CPU of the database server, when it is a process of its own (PostgreSQL). */
  databaseCpu?: () => number;
  /**
   * Whether every patient's timeline includes all their results (the hub's follow-up, which runs
   * after the commit): CPU is then counted until it holds, so work deferred past the last commit
   * still counts, and the lag is reported.
   */
  followupCaughtUp?: () => Promise<boolean>;
}

async function endToEnd(t: BenchHub, label: string, perClient = PER_CLIENT) {
  const dir = makeTempDir(`bench-${label}`);
  const sets = Array.from({ length: CLIENTS }, (_, i) => payloads(i, perClient));
  const latencies: number[] = [];
  const publishers: MqttPublisher[] = [];
  const outboxes: Outbox[] = [];
  for (const set of sets) {
    const password = await t.addDevice(set.address.clinicId, set.address.deviceId);
    const outbox = new Outbox({ path: join(dir.path, `${set.address.deviceId}.sqlite`), maxBytes: 1e10 });
    outbox.enqueueMany(
      set.results.map((r) => ({
        messageId: r.messageId,
        kind: 'results' as const,
        topic: topicFor(set.address, 'results'),
        payload: encodeMessage(r),
      })),
    );
    outboxes.push(outbox);
    publishers.push(
      new MqttPublisher({
        address: set.address,
        url: t.mqttUrl,
        username: set.address.deviceId,
        password,
        protocolVersion: 4,
        keepaliveS: 30,
        inflightWindow: WINDOW,
        reconnect: { minMs: 100, maxMs: 1000 },
        outbox,
        logger: silent,
        statusFields: () => ({ agentVersion: 'bench' }),
        onAcknowledged: (_m, sentAt) => latencies.push(Date.now() - sentAt),
      }),
    );
  }
  const total = CLIENTS * perClient;
  const pids = t.pids ?? [t.pid];
  const sum = (f: (pid: number) => number) => () => pids.reduce((a, pid) => a + f(pid), 0);
  // The hub's main thread is its serial part (broker, validation); other threads do storage work.
  const cpu = new CpuMeter({
    hub: sum((pid) => cpuSeconds(pid)),
    hubMainThread: sum((pid) => cpuSeconds(pid, pid)),
    edges: ownCpuSeconds,
    ...(t.databaseCpu ? { database: t.databaseCpu } : {}),
  });
  cpu.start();
  const started = performance.now();
  for (const p of publishers) p.start();
  // SQLite's count is a rowid lookup; PostgreSQL's a query on another process, polled less often.
  await waitFor(
    `${label}: all results committed`,
    async () => (await t.committedResults()) >= total,
    300_000,
    t.databaseCpu ? 50 : 5,
  );
  const seconds = (performance.now() - started) / 1000;
  let followupLagS: number | undefined;
  if (t.followupCaughtUp) {
    await waitFor(`${label}: follow-up caught up`, t.followupCaughtUp, 300_000, 250);
    followupLagS = round((performance.now() - started) / 1000 - seconds, 3);
  }
  const cpuUsPerResult = cpu.stop(total);
  if (process.env.BENCH_DEBUG) progress(`${label}: hub threads ${JSON.stringify(threadCpu(t.pid))}`);
  const lost = total - (await t.committedResults());
  for (const p of publishers) await p.stop();
  for (const o of outboxes) o.close();
  dir.remove();
  return {
    resultsPerS: round(total / seconds, 0),
    seconds: round(seconds, 3),
    lost,
    ackLatencyMs: summarise(latencies),
    cpuUsPerResult,
    ...(followupLagS === undefined ? {} : { followupLagS }),
  };
}

/** Extra Node flags for the hub processes (e.g. `BENCH_HUB_NODE_ARGS=--cpu-prof` to profile them). */
const hubNodeArgs = () => process.env.BENCH_HUB_NODE_ARGS?.split(' ').filter(Boolean);

/** The real `vigil-hub serve` in its own process, as in production; devices registered beforehand. */
async function withHubProcess<T>(
  label: string,
  env: Record<string, string>,
  run: (hub: BenchHub & { pendingPoints(): Promise<number> }) => Promise<T>,
  databaseCpu?: () => number,
): Promise<T> {
  const dir = makeTempDir(`bench-hub-${label}`);
  const hub = new HubProcess(join(dir.path, 'hub'), env, hubNodeArgs());
  await hub.init();
  const config = loadHubConfig(undefined, hub.env);
  const state = await openConfiguredState(config);
  const registry = new DeviceRegistry(state);
  const passwords = new Map<string, string>();
  for (let i = 0; i < CLIENTS; i++) {
    const address = { clinicId: `clinic-${i % 3}`, deviceId: `edge-${i}` };
    passwords.set(address.deviceId, (await registry.add(address)).password);
  }
  await state.close();
  await hub.start();
  const count = await resultCounter(config);
  try {
    const result = await run({
      mqttUrl: hub.mqttUrl,
      pid: hub.pid as number,
      addDevice: async (_clinicId, deviceId) => passwords.get(deviceId) ?? '',
      committedResults: count.read,
      ...(databaseCpu ? { databaseCpu } : {}),
      pendingPoints: async () => {
        const metrics = await (await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).text();
        return Number(/^vigil_history_pending_points (\d+)/m.exec(metrics)?.[1] ?? Number.NaN);
      },
    });
    if (process.env.BENCH_DEBUG) {
      const metrics = await (await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).text();
      progress(
        metrics
          .split('\n')
          .filter((l) => l.startsWith('vigil_ingest'))
          .join('\n'),
      );
    }
    return result;
  } finally {
    await count.close();
    await hub.kill('SIGTERM');
    dir.remove();
  }
}

/** Counts the hub's committed results from outside it, on either engine. */
async function resultCounter(
  config: ReturnType<typeof loadHubConfig>,
): Promise<{ read(): number | Promise<number>; close(): Promise<void> }> {
  if (config.state.driver === 'postgres') {
    const client = new pg.Client({ connectionString: config.state.url });
    await client.connect();
    return {
      read: async () => Number((await client.query('SELECT count(*) AS n FROM results')).rows[0]?.n ?? 0),
      close: () => client.end(),
    };
  }
  const db = new Database(join(config.dataDir, 'state.sqlite'), { readonly: true });
  // Rows are only ever inserted, so max(rowid) is the count, at O(log n) per poll.
  const count = db.prepare('SELECT coalesce(max(rowid), 0) AS n FROM results');
  return { read: () => (count.get() as { n: number }).n, close: async () => void db.close() };
}

const EXTERNAL_PER_CLIENT = Number(process.env.BENCH_EXTERNAL_MESSAGES ?? 5000);
const CONSUMERS = 4;

/**
 * Through an external broker (Mosquitto) with the state on PostgreSQL: the minimal durable baseline
 * (a plain subscriber committing batches and acknowledging after commit), then one hub replica, then
 * two, each with the same clients, payloads, consumer connections and a fresh database.
 */
async function externalBackbone(): Promise<Record<string, unknown>> {
  const perClient = EXTERNAL_PER_CLIENT;
  const total = CLIENTS * perClient;
  const devices = Array.from({ length: CLIENTS }, (_, i) => ({
    clinicId: `clinic-${i % 3}`,
    deviceId: `edge-${i}`,
    password: `edge-${i}-bench-password`,
  }));
  const passwordOf = async (_c: string, deviceId: string) => devices.find((d) => d.deviceId === deviceId)?.password ?? '';
  const postgres = new PostgresServer();
  const mosquitto = new MosquittoServer();
  await postgres.start();
  await startMosquittoForDevices(mosquitto, devices);
  const databaseCpu = () => treeCpuSeconds(postgres.pid);
  try {
    progress(`backbone/external: minimal durable baseline, ${CLIENTS} clients × ${perClient}, ${CONSUMERS} consumer connections`);
    const baselineUrl = postgres.createDatabase('baseline');
    const subscriber = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'durable-subscriber-process.ts'),
        mosquitto.url,
        HUB_ACCOUNT.username,
        HUB_ACCOUNT.password,
        baselineUrl,
        String(CONSUMERS),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => subscriber.stdout.once('data', () => resolve()));
    const baselineDb = new pg.Client({ connectionString: baselineUrl });
    await baselineDb.connect();
    const baseline = await endToEnd(
      {
        mqttUrl: mosquitto.url,
        pid: subscriber.pid as number,
        addDevice: passwordOf,
        committedResults: async () => Number((await baselineDb.query('SELECT count(*) AS n FROM baseline_results')).rows[0].n),
        databaseCpu,
      },
      'baseline',
      perClient,
    );
    await baselineDb.end();
    subscriber.kill('SIGTERM');

    const replicaRuns: Record<string, Awaited<ReturnType<typeof endToEnd>> & { ratioToBaseline: number }> = {};
    for (const n of (process.env.BENCH_REPLICAS ?? '1,2').split(',').map(Number)) {
      progress(`backbone/external: ${n} hub replica(s)`);
      const url = postgres.createDatabase(`replicas_${n}`);
      const dir = makeTempDir(`bench-replicas-${n}`);
      const hubs = Array.from(
        { length: n },
        (_, i) =>
          new HubProcess(
            join(dir.path, `replica-${i}`),
            replicaEnv({
              name: `replica-${i}`,
              stateUrl: url,
              brokerUrl: mosquitto.url,
              account: HUB_ACCOUNT,
              consumers: CONSUMERS,
            }),
            hubNodeArgs(),
          ),
      );
      for (const h of hubs) await h.init();
      const state = await openConfiguredState(loadHubConfig(undefined, (hubs[0] as HubProcess).env));
      const registry = new DeviceRegistry(state);
      for (const d of devices) await registry.add(d, { password: d.password });
      await state.close();
      await Promise.all(hubs.map((h) => h.start()));
      const db = new pg.Client({ connectionString: url });
      await db.connect();
      try {
        const run = await endToEnd(
          {
            mqttUrl: mosquitto.url,
            pid: (hubs[0] as HubProcess).pid as number,
            pids: hubs.map((h) => h.pid as number),
            addDevice: passwordOf,
            committedResults: async () => Number((await db.query('SELECT count(*) AS n FROM results')).rows[0].n),
            databaseCpu,
            followupCaughtUp: async () =>
              Number(
                (
                  await db.query(`SELECT count(*) AS n FROM results r LEFT JOIN patients p ON p.patient_key = r.patient_key
                    WHERE p.patient_key IS NULL OR p.updated_at < r.received_at`)
                ).rows[0].n,
              ) === 0,
          },
          `replicas-${n}`,
          perClient,
        );
        replicaRuns[String(n)] = { ...run, ratioToBaseline: round(run.resultsPerS / baseline.resultsPerS) };
      } finally {
        await db.end();
        for (const h of hubs) await h.kill('SIGTERM');
        dir.remove();
      }
    }
    return {
      messages: total,
      consumerConnections: CONSUMERS,
      durableBaseline: baseline,
      oneReplica: replicaRuns['1'],
      twoReplicas: {
        ...replicaRuns['2'],
        ratioToOneReplica: round((replicaRuns['2']?.resultsPerS ?? 0) / (replicaRuns['1']?.resultsPerS ?? 1)),
      },
      target: 'oneReplica.ratioToBaseline >= 0.8 with lost = 0',
    };
  } finally {
    await mosquitto.dispose();
    await postgres.dispose();
  }
}

export async function benchBackbone(): Promise<Record<string, unknown>> {
  if (process.env.BENCH_BACKBONE_EXTERNAL_ONLY) return { bench: 'backbone', external: await externalBackbone() };
  const total = CLIENTS * PER_CLIENT;
  progress(`backbone: ${CLIENTS} clients × ${PER_CLIENT} messages, window ${WINDOW}`);
  progress('backbone: raw aedes QoS 1 baseline');
  const raw = await rawAedes();
  progress(`backbone: raw ${raw.msgsPerS} msg/s; end-to-end with the embedded history store`);
  const embedded = await withHubProcess('embedded', {}, (hub) => endToEnd(hub, 'embedded'));
  const embeddedFigures = { ...embedded, ratioToRaw: round(embedded.resultsPerS / raw.msgsPerS) };
  if (process.env.BENCH_BACKBONE_EMBEDDED_ONLY) {
    return {
      bench: 'backbone',
      rawAedesQos1MsgsPerS: raw.msgsPerS,
      rawCpuUsPerMessage: raw.cpuUsPerMessage,
      embedded: embeddedFigures,
    };
  }
  progress(`backbone: embedded ${embedded.resultsPerS} results/s; end-to-end with the state on PostgreSQL`);
  const postgres = new PostgresServer();
  await postgres.start();
  const onPostgres = await withHubProcess(
    'postgres',
    { VIGIL_STATE__DRIVER: 'postgres', VIGIL_STATE__URL: postgres.createDatabase('bench') },
    (hub) => endToEnd(hub, 'postgres'),
    () => treeCpuSeconds(postgres.pid),
  );
  await postgres.dispose();
  const postgresFigures = {
    ...onPostgres,
    ratioToRaw: round(onPostgres.resultsPerS / raw.msgsPerS),
    ratioToSqlite: round(onPostgres.resultsPerS / embedded.resultsPerS),
  };
  progress(`backbone: PostgreSQL ${onPostgres.resultsPerS} results/s; end-to-end with InfluxDB`);
  const influxd = new InfluxdServer();
  await influxd.start();
  const { influx, influxDrainS } = await withHubProcess(
    'influx',
    {
      VIGIL_HISTORY__DRIVER: 'influxdb',
      VIGIL_HISTORY__INFLUX__URL: influxd.url,
      VIGIL_HISTORY__INFLUX__FLUSH_INTERVAL_MS: '100',
    },
    async (hub) => {
      const influx = await endToEnd(hub, 'influx');
      const drainStarted = performance.now();
      await waitFor('InfluxDB backfilled', async () => (await hub.pendingPoints()) === 0, 120_000, 20);
      return { influx, influxDrainS: (performance.now() - drainStarted) / 1000 };
    },
  );
  const body = (await influxd.query('vigil', 'SELECT count(score) FROM inference')) as {
    results: { series?: { values: [number, number][] }[] }[];
  };
  const influxPoints = body.results[0]?.series?.[0]?.values[0]?.[1] ?? 0;
  await influxd.dispose();
  const external = await externalBackbone();
  return {
    bench: 'backbone',
    clients: CLIENTS,
    messages: total,
    payloadBytes: encodeMessage(syntheticResult({ clinicId: 'clinic-0', deviceId: 'edge-0' }, 0, 512)).byteLength,
    inflightWindow: WINDOW,
    rawAedesQos1MsgsPerS: raw.msgsPerS,
    rawCpuUsPerMessage: raw.cpuUsPerMessage,
    embedded: embeddedFigures,
    postgres: postgresFigures,
    influxdb: {
      ...influx,
      ratioToRaw: round(influx.resultsPerS / raw.msgsPerS),
      pointsInInflux: influxPoints,
      drainAfterLastAckS: round(influxDrainS, 3),
    },
    external,
    target: 'ratioToRaw >= 0.8 with lost = 0',
  };
}
