// `npm run demo`: the whole system on embedded defaults, no external services. A hub (embedded MQTT
// broker, SQLite state and history) and three edge agents, one per simulated clinic, connected over
// real MQTT with per-device credentials. `--duration S` stops it after S seconds (used by tests).
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Hub, loadHubConfig } from '@vigil/cloud-hub';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { createLogger } from '@vigil/shared';
import { sendStudy } from './demo/modality-simulator.js';
import { freePort } from './harness/free-port.js';
import { type PlannedPatient, planCohort } from './phantoms/cohort-plan.js';

const { values } = parseArgs({ options: { duration: { type: 'string' }, dir: { type: 'string', default: '.vigil' } } });
const root = resolve(values.dir ?? '.vigil');
const demoDir = join(root, 'demo');
const logger = createLogger('vigil-demo', { level: process.env.VIGIL_LOG_LEVEL ?? 'warn' });

function portFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen(port, '127.0.0.1', () => server.close(() => done(true)));
  });
}

/** The contract's default port when free, otherwise any free one (a second demo, a local broker). */
async function pickPort(preferred: number): Promise<number> {
  return (await portFree(preferred)) ? preferred : 0;
}

const CLINICS = [
  { clinicId: 'clinic-north', deviceId: 'north-mg-1', tags: ['north', 'mammography'] },
  { clinicId: 'clinic-south', deviceId: 'south-mg-1', tags: ['south', 'mammography'] },
  { clinicId: 'clinic-east', deviceId: 'east-mg-1', tags: ['east', 'mammography'] },
];

rmSync(demoDir, { recursive: true, force: true });
mkdirSync(demoDir, { recursive: true });

const hub = new Hub(
  loadHubConfig(undefined, process.env, {
    dataDir: join(demoDir, 'hub'),
    http: { port: await pickPort(8080) },
    mqtt: { listen: { port: await pickPort(1883) } },
  }),
  { logger },
);
await hub.start();
const mqttUrl = `mqtt://127.0.0.1:${hub.mqttPorts.plain}`;
const httpUrl = `http://127.0.0.1:${hub.httpPort}`;

const agents: EdgeAgent[] = [];
const credentials: Record<string, unknown>[] = [];
const MODEL_DIR = resolve(import.meta.dirname, '../models/vigil-demo');
/** DEMO FIXTURE: the pseudonym secret shared by the demo's edges; never use it elsewhere. */
const DEMO_PSEUDONYM_SECRET = 'vigil-demo-pseudonym-secret-not-for-production';
const dicomPorts: number[] = [];
for (const clinic of CLINICS) {
  const { password } = await hub.registry.add(clinic, { tags: clinic.tags });
  const dicomPort = dicomPorts.length === 0 ? (await pickPort(11112)) || (await freePort()) : await freePort();
  dicomPorts.push(dicomPort);
  credentials.push({ ...clinic, username: clinic.deviceId, password, dicom: { aeTitle: 'VIGIL', port: 0 } });
  const agent = new EdgeAgent(
    loadEdgeConfig(undefined, {
      VIGIL_CLINIC_ID: clinic.clinicId,
      VIGIL_DEVICE_ID: clinic.deviceId,
      VIGIL_DATA_DIR: join(demoDir, clinic.deviceId),
      VIGIL_MQTT__URL: mqttUrl,
      VIGIL_MQTT__PASSWORD: password,
      VIGIL_TELEMETRY__INTERVAL_S: '2',
      VIGIL_TAGS: JSON.stringify(clinic.tags),
      VIGIL_DICOM__ENABLED: 'true',
      VIGIL_DICOM__PORT: String(dicomPort),
      VIGIL_WATCH_FOLDER__PATH: join(demoDir, clinic.deviceId, 'inbox'),
      VIGIL_DEID__SECRET: DEMO_PSEUDONYM_SECRET,
      VIGIL_MODEL__DIR: MODEL_DIR,
    }),
    { logger: logger.child({ deviceId: clinic.deviceId }) },
  );
  await agent.start();
  agents.push(agent);
}

credentials.forEach((c, i) => {
  (c.dicom as { port: number }).port = dicomPorts[i] as number;
});
const credentialsFile = join(root, 'demo-credentials.json');
writeFileSync(
  credentialsFile,
  `${JSON.stringify(
    {
      note: 'DEMO FIXTURE: generated for this demo run only; never use these credentials elsewhere.',
      hub: { http: httpUrl, mqtt: mqttUrl },
      devices: credentials,
    },
    null,
    2,
  )}\n`,
  { mode: 0o600 },
);

process.stdout.write(
  [
    '',
    'Vigil demo is running (hub + 3 clinics, embedded broker and stores, no external services).',
    `  Hub HTTP     ${httpUrl}   (/healthz, /readyz, /metrics)`,
    `  Hub MQTT     ${mqttUrl}`,
    `  Credentials  ${credentialsFile}`,
    `  DICOM SCPs   AE VIGIL on ports ${dicomPorts.join(', ')} (try: echoscu -aec VIGIL 127.0.0.1 ${dicomPorts[0]})`,
    '  What exists so far: devices online over authenticated MQTT, telemetry every 2 s into the hub',
    '  (SQLite state + embedded history); a simulated mammography unit per clinic sends four-view',
    '  phantom studies (synthetic patients with follow-up visits) over DICOM C-STORE; each edge',
    '  spools, decodes, de-identifies and runs the model on them and publishes the results, which',
    '  the hub stores (a corrupt file in one watched folder is quarantined). The bundled model',
    '  (0.2.0) is an early training run, far below the quality bar; follow-up and the dashboard come next.',
    '  Press Ctrl-C to stop.',
    '',
  ].join('\n'),
);

async function report(): Promise<void> {
  const states = await hub.state.listDeviceStates();
  const rows = states.map((s) => {
    const t = s.lastTelemetry;
    const p = t?.pipeline;
    return `  ${s.clinicId.padEnd(13)} ${s.deviceId.padEnd(11)} ${s.status.padEnd(8)} images ${String(p?.received ?? 0).padStart(3)} in / ${String(p?.processed ?? 0).padStart(3)} done / ${String(p?.quarantined ?? 0)} quarantined  cpu ${(t?.cpu.utilizationPct ?? 0).toFixed(0).padStart(3)}%  outbox ${String(t?.outbox.depth ?? 0).padStart(3)}`;
  });
  const history = await hub.history.query({
    measurement: 'device_telemetry',
    field: 'cpu_utilization_pct',
    fromMs: Date.now() - 3_600_000,
    toMs: Date.now() + 1000,
  });
  process.stdout.write(
    `[${new Date().toISOString()}] ${states.filter((s) => s.status === 'online').length}/${CLINICS.length} devices online, ${history.length} telemetry samples stored, ${await hub.state.countResults()} results stored\n${rows.join('\n')}\n`,
  );
}

// The simulated modalities: each clinic screens its own phantom patients, one four-view study
// every 6 seconds, each patient coming back for follow-up visits.
const DEMO_SEED = 2026;
const cohort = planCohort(DEMO_SEED, CLINICS.length * 3, 6);
let round = 0;
async function sendRound(): Promise<void> {
  await Promise.all(
    dicomPorts.map((port, clinic) => {
      const patient = cohort[clinic * 3 + (round % 3)] as PlannedPatient;
      const visit = Math.floor(round / 3) % patient.visits.length;
      return sendStudy(port, patient, visit, DEMO_SEED).catch((error: Error) =>
        logger.warn({ err: error.message }, 'demo modality could not send'),
      );
    }),
  );
  round += 1;
}
void sendRound();
const modalities = setInterval(() => void sendRound(), 6000);
writeFileSync(join(demoDir, CLINICS[2]?.deviceId ?? 'east-mg-1', 'inbox', 'corrupt-export.dcm'), Buffer.alloc(4096, 0x42));

const ticker = setInterval(() => void report(), 5000);
let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  clearInterval(modalities);
  await report();
  for (const agent of agents) await agent.stop();
  await hub.stop();
  process.stdout.write('Vigil demo stopped.\n');
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
