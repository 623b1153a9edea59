// `npm run soak -- --devices N --minutes M`: the soak and fault suite (issue 13). Everything on
// loopback, bounded in devices and time, and it stops by itself. Two hub replicas (external-broker
// mode, one MQTT 5 shared subscription group) share PostgreSQL and InfluxDB behind Mosquitto; the
// fleet is real MQTT connections over TLS from simulator processes (device-sim.ts): telemetry from
// every device every 10 s, result bursts from the result devices through the edge's own outbox and
// publisher with end-to-end receipts. While it runs it injects, one after another: kill -9 of a hub
// replica (restarted), a broker restart, a PostgreSQL restart, an InfluxDB restart and kill -9 of a
// simulator process (an edge agent: restarted on the same outboxes). At the end it counts sent
// against stored and prints one JSON report on stdout (progress on stderr).
process.env.VIGIL_LOG_LEVEL ??= 'warn';

import { type ChildProcess, fork } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { hashPassword } from '../../cloud-hub/src/auth/password-hash.js';
import { cpuSeconds } from '../bench/cpu-time.js';
import { percentile, progress, round } from '../bench/stats.js';
import { parseCli } from '../cli-args.js';
import { HubProcess, replicaEnv } from '../harness/hub-process.js';
import { InfluxdServer } from '../harness/influxd.js';
import { HUB_ACCOUNT, MosquittoServer, startMosquittoForDevices } from '../harness/mosquitto.js';
import { PostgresServer } from '../harness/postgres.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { makeTlsMaterial } from '../harness/tls-material.js';
import { waitFor } from '../harness/wait-for.js';
import type { SimConfig, SimDevice } from './device-sim.js';

const USAGE = `usage: npm run soak -- [--devices N (200)] [--minutes M (3)] [--processes P (2)] [--result-devices N (40)]
                       [--burst N (5000)] [--burst-every-s S (20)] [--telemetry-s S (10)] [--no-faults]
Two hub replicas on PostgreSQL behind Mosquitto, N TLS devices, faults injected; one JSON report (docs/operations.md).`;
const { values: args } = parseCli(USAGE, {
  options: {
    devices: { type: 'string', default: '200' },
    minutes: { type: 'string', default: '3' },
    processes: { type: 'string', default: '2' },
    'result-devices': { type: 'string', default: '40' },
    burst: { type: 'string', default: '5000' },
    'burst-every-s': { type: 'string', default: '20' },
    'telemetry-s': { type: 'string', default: '10' },
    'no-faults': { type: 'boolean', default: false },
  },
  allowPositionals: false,
});
const DEVICES = Math.min(Math.max(Number(args.devices), 2), 20_000);
const MINUTES = Math.min(Math.max(Number(args.minutes), 0.5), 120);
const PROCESSES = Math.min(Math.max(Number(args.processes), 1), 4);
const RESULT_DEVICES = Math.min(Number(args['result-devices']), DEVICES);
const BURST = Number(args.burst);
const BURST_EVERY_S = Number(args['burst-every-s']);
const TELEMETRY_S = Number(args['telemetry-s']);

const dir = makeTempDir('soak');
const runId = Date.now().toString(36);
const started = performance.now();
const elapsedS = () => round((performance.now() - started) / 1000, 1);
const log = (message: string) => progress(`soak ${elapsedS()}s: ${message}`);

const tls = makeTlsMaterial(dir.path, 'soak');
const postgres = new PostgresServer();
const influxd = new InfluxdServer();
const mosquitto = new MosquittoServer();
const replicas: HubProcess[] = [];
const sims: { config: SimConfig; child: ChildProcess | undefined; connected: number; awaiting: number }[] = [];
const sent = new Set<string>();
const probes = new Map<string, (messageId: string) => void>();
let pool: pg.Pool | undefined;

function spawnSim(index: number): void {
  const sim = sims[index] as (typeof sims)[number];
  // The device list goes in a file: thousands of devices exceed what argv may hold.
  const configFile = join(dir.path, `sim-${index}.json`);
  writeFileSync(configFile, JSON.stringify(sim.config));
  const child = fork(join(import.meta.dirname, 'device-sim.ts'), [configFile], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
  });
  sim.child = child;
  child.on('message', (m: { enqueued?: string[]; probe?: string; connected?: number; awaiting?: number }) => {
    for (const id of m.enqueued ?? []) sent.add(id);
    if (m.probe && m.enqueued?.[0]) probes.get(m.probe)?.(m.enqueued[0]);
    if (m.connected !== undefined) sim.connected = m.connected;
    if (m.awaiting !== undefined) sim.awaiting = m.awaiting;
  });
  child.on('exit', () => {
    if (sim.child === child) sim.child = undefined;
  });
}

const liveSims = () => sims.filter((s) => s.child);

async function stored(messageId: string): Promise<boolean> {
  const r = await pool?.query('SELECT 1 FROM results WHERE message_id = $1', [messageId]).catch(() => undefined);
  return (r?.rowCount ?? 0) > 0;
}

/**
 * Sends a result through a live simulator's probe device (one that sends no bursts, so the probe
 * waits behind no backlog of its own) and resolves with the seconds until it is committed.
 */
async function probe(name: string, since: number, simIndex?: number): Promise<number> {
  const sim = simIndex !== undefined ? sims[simIndex] : liveSims()[0];
  const id = await new Promise<string>((resolve) => {
    probes.set(name, resolve);
    sim?.child?.send({ probe: name });
  });
  await waitFor(`probe ${name} committed`, () => stored(id), 600_000, 100);
  return round((performance.now() - since) / 1000, 1);
}

interface Sample {
  at: number;
  cpu: number;
  rssMb: number;
}
const samples: Sample[] = [];
function sampleHubs(): void {
  let cpu = 0;
  let rss = 0;
  for (const r of replicas) {
    if (!r.pid) continue;
    try {
      cpu += cpuSeconds(r.pid);
      const status = readFileSync(`/proc/${r.pid}/status`, 'utf8');
      rss += Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
    } catch {
      // a replica between kill and restart
    }
  }
  samples.push({ at: performance.now(), cpu, rssMb: rss });
}

async function main(): Promise<void> {
  log(`${DEVICES} devices (${RESULT_DEVICES} sending results) over TLS from ${PROCESSES} processes, ${MINUTES} min`);
  await postgres.start();
  const url = postgres.createDatabase('soak');
  await influxd.start();
  const devices: SimDevice[] = Array.from({ length: DEVICES }, (_, i) => ({
    clinicId: `clinic-${i % 20}`,
    deviceId: `dev-${String(i).padStart(5, '0')}`,
    password: `dev-${i}-soak-password`,
    // Result devices are spread over the processes.
    results: i < RESULT_DEVICES,
  }));
  await startMosquittoForDevices(mosquitto, devices, {
    caFile: tls.caCert,
    certFile: tls.serverCert,
    keyFile: tls.serverKey,
  });
  log('broker up; registering the fleet with the hub');
  for (const name of ['replica-1', 'replica-2']) {
    const hub = new HubProcess(join(dir.path, name), {
      ...replicaEnv({ name, stateUrl: url, brokerUrl: mosquitto.url, account: HUB_ACCOUNT }),
      VIGIL_CLUSTER__LEASE_TTL_MS: '6000',
      VIGIL_HISTORY__DRIVER: 'influxdb',
      VIGIL_HISTORY__INFLUX__URL: influxd.url,
    });
    await hub.init();
    replicas.push(hub);
  }
  await Promise.all(replicas.map((r) => r.start()));
  // The hub's device registry (the replicas created the schema): one argon2id hash for all, since
  // the devices authenticate at the broker here.
  pool = new pg.Pool({ connectionString: url, max: 4 });
  pool.on('error', () => undefined);
  const hash = await hashPassword('soak-devices-authenticate-at-the-broker');
  const rows = devices.map((d) => [d.deviceId, d.clinicId]);
  await pool.query(
    `INSERT INTO devices (device_id, clinic_id, password_hash, tags_json, created_at)
      SELECT d, c, $3, '[]', $4 FROM unnest($1::text[], $2::text[]) AS t(d, c)`,
    [rows.map((r) => r[0]), rows.map((r) => r[1]), hash, new Date().toISOString()],
  );
  log('two hub replicas ready; connecting the fleet');

  for (let p = 0; p < PROCESSES; p++) {
    sims.push({
      config: {
        url: mosquitto.tlsUrl,
        caFile: tls.caCert,
        dataDir: join(dir.path, `sim-${p}`),
        devices: devices.filter((_, i) => i % PROCESSES === p),
        telemetryS: TELEMETRY_S,
        index: p,
        run: runId,
      },
      child: undefined,
      connected: 0,
      awaiting: 0,
    });
    spawnSim(p);
  }
  const connectStarted = performance.now();
  const connected = () => sims.reduce((n, s) => n + s.connected, 0);
  await waitFor('every device connected', () => connected() >= DEVICES, 600_000, 500);
  const connectS = round((performance.now() - connectStarted) / 1000, 1);
  log(`${DEVICES} devices connected in ${connectS} s`);

  sampleHubs();
  const sampler = setInterval(sampleHubs, 5000);
  const runStarted = performance.now();
  const deadline = runStarted + MINUTES * 60_000;
  const faultNames = !args['no-faults']
    ? ['kill -9 hub replica', 'restart broker', 'restart PostgreSQL', 'restart InfluxDB', 'kill -9 edge agent']
    : [];
  const faultAt = faultNames.map((_, k) => runStarted + ((k + 1) * MINUTES * 60_000) / (faultNames.length + 1.5));
  const faults: { fault: string; atS: number; recoverS: number }[] = [];
  let nextBurst = runStarted;
  const telemetryBefore = await telemetryStored();
  while (performance.now() < deadline) {
    if (performance.now() >= nextBurst) {
      const live = liveSims();
      for (const s of live) s.child?.send({ burst: Math.ceil(BURST / live.length) });
      nextBurst += BURST_EVERY_S * 1000;
    }
    const k = faults.length;
    if (k < faultNames.length && performance.now() >= (faultAt[k] as number)) {
      const fault = faultNames[k] as string;
      const at = performance.now();
      log(`fault: ${fault}`);
      let recovered: Promise<number>;
      if (fault === 'kill -9 hub replica') {
        const victim = replicas[0] as HubProcess;
        await victim.kill('SIGKILL');
        recovered = probe(fault, at);
        await victim.start();
      } else if (fault === 'restart broker') {
        await mosquitto.stop();
        await mosquitto.start();
        recovered = probe(fault, at);
      } else if (fault === 'restart PostgreSQL') {
        await postgres.stop();
        await postgres.start();
        recovered = probe(fault, at);
      } else if (fault === 'restart InfluxDB') {
        await influxd.stop();
        await influxd.start();
        recovered = probe(fault, at);
      } else {
        const last = sims.length - 1;
        sims[last]?.child?.kill('SIGKILL');
        await waitFor('simulator gone', () => sims[last]?.child === undefined, 30_000, 20);
        (sims[last] as (typeof sims)[number]).connected = 0;
        spawnSim(last);
        recovered = probe(fault, at, last);
      }
      const recoverS = await recovered;
      faults.push({ fault, atS: round((at - runStarted) / 1000, 1), recoverS });
      log(`recovered from "${fault}" in ${recoverS} s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  const runS = (performance.now() - runStarted) / 1000;
  log(`${MINUTES} min done; ${sent.size} results sent, waiting for the outboxes to drain`);
  await waitFor(
    'every sent result stored',
    async () => {
      const n = Number((await pool?.query('SELECT count(*) AS n FROM results'))?.rows[0].n);
      return n >= sent.size;
    },
    600_000,
    1000,
  );
  clearInterval(sampler);
  sampleHubs();
  const drainS = (performance.now() - runStarted) / 1000 - runS;

  const storedIds = new Set(
    ((await pool.query('SELECT message_id FROM results')).rows as { message_id: string }[]).map((r) => r.message_id),
  );
  const lost = [...sent].filter((id) => !storedIds.has(id)).length;
  const unexpected = [...storedIds].filter((id) => !sent.has(id)).length;
  // A result id cannot be stored twice (it is the table's key): what could be is the same image's
  // result under a second id, so this counts rows beyond the first per image, model and shadow flag.
  const storedTwice = Number(
    (await pool.query(`SELECT count(*) - count(DISTINCT (instance_key, model_name, model_version, shadow)) AS n FROM results`))
      .rows[0].n,
  );
  const latencies = (
    (
      await pool.query(
        `SELECT extract(epoch FROM (received_at::timestamptz - created_at::timestamptz)) * 1000 AS ms FROM results`,
      )
    ).rows as { ms: string }[]
  )
    .map((r) => Number(r.ms))
    .sort((a, b) => a - b);
  // Committed results per second, over the seconds in which any were committed (the bursts).
  const perSecond = (
    (await pool.query(`SELECT count(*) AS n FROM results GROUP BY date_trunc('second', received_at::timestamptz) ORDER BY n`))
      .rows as { n: string }[]
  ).map((r) => Number(r.n));
  const telemetry = (await telemetryStored()) - telemetryBefore;
  const metrics = await Promise.all(replicas.map((r) => fetch(`http://127.0.0.1:${r.httpPort}/metrics`).then((x) => x.text())));
  const deadLetters = Object.fromEntries(
    ((await pool.query('SELECT code, count(*) AS n FROM dead_letters GROUP BY code')).rows as { code: string; n: string }[]).map(
      (r) => [r.code, Number(r.n)],
    ),
  );
  const telemetryAccepted = metrics.reduce(
    (n, m) => n + Number(/^vigil_ingest_messages_total\{kind="telemetry",outcome="accepted"\} (\d+)/m.exec(m)?.[1] ?? 0),
    0,
  );
  const resent = metrics.reduce((n, m) => n + Number(/^vigil_ingest_duplicate_results_total (\d+)/m.exec(m)?.[1] ?? 0), 0);
  const first = samples[0] as Sample;
  const last = samples[samples.length - 1] as Sample;
  const cpuCores = (last.cpu - first.cpu) / ((last.at - first.at) / 1000);
  const rssMax = Math.max(...samples.map((s) => s.rssMb));
  const perK = DEVICES / 1000;
  const report = {
    soak: 'vigil',
    devices: DEVICES,
    resultDevices: RESULT_DEVICES,
    simulatorProcesses: PROCESSES,
    transport: 'MQTT 5 over TLS 1.2 to Mosquitto; 2 hub replicas in one shared-subscription group',
    minutes: MINUTES,
    connectAllS: connectS,
    results: {
      sent: sent.size,
      stored: storedIds.size,
      lost,
      storedTwice,
      storedButNeverSent: unexpected,
      resentAndDeduplicated: resent,
      perSSustained: round(storedIds.size / (runS + drainS), 1),
      perSWhileBursting: { p50: percentile(perSecond, 0.5), p90: percentile(perSecond, 0.9), max: perSecond.at(-1) ?? 0 },
      drainAfterRunS: round(drainS, 1),
      endToEndLatencyMs: {
        p50: round(percentile(latencies, 0.5), 0),
        p99: round(percentile(latencies, 0.99), 0),
        max: round(latencies[latencies.length - 1] ?? 0, 0),
      },
    },
    deadLetters,
    telemetry: {
      acceptedSinceLastRestart: telemetryAccepted,
      stored: telemetry,
      perS: round(telemetry / (runS + drainS), 1),
      expectedPerS: round(DEVICES / TELEMETRY_S, 1),
    },
    hubs: {
      cpuCores: round(cpuCores, 2),
      cpuCoresPer1000Devices: round(cpuCores / perK, 2),
      rssMbMax: round(rssMax, 0),
      rssMbPer1000Devices: round(rssMax / perK, 0),
    },
    faults,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

/** Telemetry points the hubs wrote to InfluxDB. */
async function telemetryStored(): Promise<number> {
  const body = (await influxd.query('vigil', 'SELECT count(disk_free_bytes) FROM device_telemetry').catch(() => ({}))) as {
    results?: { series?: { values: [number, number][] }[] }[];
  };
  return body.results?.[0]?.series?.[0]?.values[0]?.[1] ?? 0;
}

let exitCode = 0;
try {
  await main();
} catch (error) {
  progress(`soak failed: ${(error as Error).stack ?? String(error)}`);
  exitCode = 1;
} finally {
  for (const s of sims) s.child?.send({ stop: true });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  for (const s of sims) s.child?.kill('SIGKILL');
  for (const r of replicas) await r.kill('SIGTERM');
  await pool?.end().catch(() => undefined);
  await mosquitto.dispose();
  await influxd.dispose();
  await postgres.dispose();
  dir.remove();
}
process.exit(exitCode);
