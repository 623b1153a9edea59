// `npm run demo`: the whole system on embedded defaults, no external services. A hub (embedded MQTT
// broker, SQLite state and history) and three edge agents, one per simulated clinic, connected over
// real MQTT with per-device credentials, the dashboard with demo users, and simulated modalities
// sending phantom follow-up studies. `--duration S` stops it after S seconds, `--study-interval S`
// sets how often each modality sends a study, and `--rounds N` stops it once N rounds of studies have
// been sent and every image is processed and its result stored (a condition, not a clock: the test
// uses it, so a slow or busy machine only makes the run longer, never different). `--postgres URL`
// keeps the hub's state in that (empty) PostgreSQL database instead of the embedded SQLite file.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { currentTotp, Hub, loadHubConfig, provisionUser, reidSigningKey } from '@vigil/cloud-hub';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { createLogger } from '@vigil/shared';
import { parseCli } from './cli-args.js';
import { prepareDatasetStudies } from './demo/dataset-studies.js';
import { formatDemoAlerts, tallyDemoAlerts } from './demo/demo-alert-truth.js';
import { pickFollowupPatients } from './demo/demo-cohort.js';
import { runFeedbackLoop } from './demo/demo-feedback.js';
import { DEMO_FIELD_VERSION, DEMO_UPDATE_VERSION, makeDemoSigningKey, publishDemoModels } from './demo/demo-models.js';
import { type DemoPacs, startDemoPacs } from './demo/demo-pacs.js';
import { SimulatedModalities } from './demo/modality-simulator.js';
import { clinicEndpointEnv } from './harness/clinic-endpoint.js';
import { freePort } from './harness/free-port.js';
import { BUNDLED_VERSION } from './harness/model-packages.js';

const USAGE = `usage: npm run demo -- [--duration S] [--dir DIR (.vigil)] [--study-interval S (6)] [--rounds N]
                      [--postgres URL] [--skip-feedback] [--skip-feedback-training]
                      [--dataset DIR [--dataset-women N (30)]]
Starts a hub and three clinic edges on embedded defaults with simulated modalities and PACS (README).
With --dataset (a public dataset an adapter reads, e.g. ../shared/data/mias-train), the modalities send
its real images instead of phantoms, one study per woman, and verdicts are simulated from its truth.`;
const { values } = parseCli(USAGE, {
  options: {
    duration: { type: 'string' },
    dir: { type: 'string', default: '.vigil' },
    'study-interval': { type: 'string', default: '6' },
    rounds: { type: 'string' },
    postgres: { type: 'string' },
    /** Skip the feedback loop (verdicts → performance → edge training sets → fine-tuned model). */
    'skip-feedback': { type: 'boolean', default: false },
    /** Run the feedback loop up to the edges' training sets, without fine-tuning (the test's short form). */
    'skip-feedback-training': { type: 'boolean', default: false },
    /** Real mammograms instead of phantoms: a dataset folder an adapter recognises (converted outside the repository). */
    dataset: { type: 'string' },
    'dataset-women': { type: 'string', default: '30' },
  },
});
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
const demoKey = makeDemoSigningKey(demoDir);

// Each clinic's edge answers its clinicians' browsers for names (loopback, so plain HTTP in the demo).
const reidPorts = await Promise.all(CLINICS.map(() => freePort()));
const hub = new Hub(
  loadHubConfig(undefined, process.env, {
    dataDir: join(demoDir, 'hub'),
    http: { port: await pickPort(8080) },
    mqtt: { listen: { port: await pickPort(1883) } },
    models: { trustedKeysFile: demoKey.publicKeyFile },
    reid: { edgeOrigins: reidPorts.map((p) => `http://127.0.0.1:${p}`) },
    ...(values.postgres ? { state: { driver: 'postgres', url: values.postgres } } : {}),
  }),
  { logger },
);
await hub.start();
if (values.postgres && (await hub.state.listDevices()).length > 0) {
  // The demo registers its devices and users afresh; it never deletes anything from a real server.
  process.stderr.write(
    'vigil-demo: the PostgreSQL database given with --postgres already holds Vigil state; give an empty one (createdb vigil_demo_2)\n',
  );
  await hub.stop();
  process.exit(2);
}
const mqttUrl = `mqtt://127.0.0.1:${hub.mqttPorts.plain}`;
const httpUrl = `http://127.0.0.1:${hub.httpPort}`;

const agents: EdgeAgent[] = [];
const feedbackDevices: { deviceId: string; password: string; dataDir: string }[] = [];
const credentials: Record<string, unknown>[] = [];
const MODEL_DIR = resolve(import.meta.dirname, '../models/vigil-demo');
await publishDemoModels(hub, demoDir, MODEL_DIR, demoKey);
/** DEMO FIXTURE: the pseudonym secret shared by the demo's edges; never use it elsewhere. */
const DEMO_PSEUDONYM_SECRET = 'vigil-demo-pseudonym-secret-not-for-production';
const dicomPorts: number[] = [];
const pacs: DemoPacs[] = [];
const { publicKeyFile: reidPublicKeyFile } = reidSigningKey(join(demoDir, 'hub'), '');
for (const [k, clinic] of CLINICS.entries()) {
  const clinicPacs = await startDemoPacs(join(demoDir, 'pacs', clinic.clinicId), await freePort());
  pacs.push(clinicPacs);
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
      // The demo's simulated modality (and dcmtk's echoscu/storescu, to try it by hand) may store.
      VIGIL_DICOM__ALLOWED_CALLING_AE_TITLES: JSON.stringify(['DEMO_MG', 'ECHOSCU', 'STORESCU']),
      VIGIL_WATCH_FOLDER__PATH: join(demoDir, clinic.deviceId, 'inbox'),
      VIGIL_DEID__SECRET: DEMO_PSEUDONYM_SECRET,
      VIGIL_MODEL__DIR: MODEL_DIR,
      VIGIL_MODEL__TRUSTED_KEYS: JSON.stringify([demoKey.publicKeyPem]),
      // Each edge keeps its de-identified model inputs, for retraining on clinicians' verdicts.
      VIGIL_TRAINING__KEEP_INPUTS: 'true',
      VIGIL_HUB_URL: httpUrl,
      // Results back to the clinic: an SR and a presentation state per study, to the clinic's (demo) PACS.
      VIGIL_PACS__ENABLED: 'true',
      VIGIL_PACS__STUDY_SETTLE_S: '3',
      VIGIL_PACS__DESTINATIONS: JSON.stringify([
        { name: 'clinic-pacs', kind: 'dimse', port: clinicPacs.port, calledAeTitle: 'DEMO_PACS' },
      ]),
      // Names beside pseudonyms on the dashboard, resolved by this edge (DEMO: plain HTTP on loopback).
      ...clinicEndpointEnv({ port: reidPorts[k] as number, hubPublicKeyFile: reidPublicKeyFile, dashboardUrl: httpUrl }),
    }),
    { logger: logger.child({ deviceId: clinic.deviceId }) },
  );
  await agent.start();
  agents.push(agent);
  feedbackDevices.push({ deviceId: clinic.deviceId, password, dataDir: join(demoDir, clinic.deviceId) });
}

credentials.forEach((c, i) => {
  (c.dicom as { port: number }).port = dicomPorts[i] as number;
});
// DEMO FIXTURE users: passwords and TOTP secrets are generated for this run and written (0600) to
// the credentials file; the hub itself keeps only argon2id hashes.
const users = [];
for (const [username, role, displayName] of [
  ['clinician', 'clinician', 'Dr. Demo Clinician'],
  ['ops', 'ops', 'Demo Ops'],
  ['admin', 'admin', 'Demo Admin'],
] as const) {
  users.push(await provisionUser(hub.auth, hub.state.audit, { username, role, displayName, enrolTotp: true, actor: 'demo' }));
}
const clinician = users[0] as (typeof users)[number];
const credentialsFile = join(root, 'demo-credentials.json');
writeFileSync(
  credentialsFile,
  `${JSON.stringify(
    {
      note: 'DEMO FIXTURE: generated for this demo run only; never use these credentials elsewhere.',
      hub: { http: httpUrl, dashboard: `${httpUrl}/`, api: `${httpUrl}/api/v1`, docs: `${httpUrl}/docs`, mqtt: mqttUrl },
      users,
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
    '',
    `  Dashboard    ${httpUrl}/`,
    `  Demo user    ${clinician.username} / ${clinician.password}   (role clinician; also "ops" and "admin" in the credentials file)`,
    `  TOTP secret  ${clinician.totpSecret}   (add it to an authenticator app, or use the current code printed below)`,
    `  Credentials  ${credentialsFile}`,
    `  API          ${httpUrl}/api/v1   (OpenAPI at ${httpUrl}/docs; /healthz, /readyz, /metrics)`,
    `  Hub MQTT     ${mqttUrl}`,
    `  DICOM SCPs   AE VIGIL on ports ${dicomPorts.join(', ')} (try: echoscu -aec VIGIL 127.0.0.1 ${dicomPorts[0]})`,
    '',
    ...(values.dataset
      ? [
          `  Each clinic's simulated modality sends the real images of ${values['dataset-women']} women of ${values.dataset}`,
          '  (converted to DICOM MG outside the repository) over DICOM C-STORE, one study per woman. Each edge spools,',
          '  decodes, de-identifies and runs the model, and publishes results to the hub. Research and demonstration',
          "  only (the dataset's licence; docs/model-card.md), not a medical device.",
        ]
      : [
          "  Each clinic's simulated mammography unit sends four-view phantom studies over DICOM C-STORE:",
          '  synthetic patients (with growing masses) coming back for follow-up visits. Each edge spools,',
          "  decodes, de-identifies and runs the model, and publishes results; the hub builds every patient's",
          '  timeline and raises growth, new-finding and overdue alerts (one patient per clinic last came',
          `  more than a year ago). The bundled model ${BUNDLED_VERSION} reads them with its digital network, trained on`,
          '  synthetic phantoms only (scanned film goes to its film network): a demonstration, not a medical device',
          '  (docs/model-card.md). A corrupt file is quarantined at east-mg-1.',
        ]),
    `  Model rollouts: vigil-demo ${BUNDLED_VERSION} and ${DEMO_UPDATE_VERSION} are signed (demo key ${demoKey.keyId}) and`,
    `  published; log in as "ops" (credentials file) and roll out ${DEMO_UPDATE_VERSION} on the Rollouts page.`,
    "  Each study's findings go back to its clinic's PACS (a demo SCP) as an AI results SR and a presentation",
    "  state; on the dashboard, names appear beside pseudonyms, resolved by each clinic's edge (never the hub).",
    "  Feedback loop: once each clinic's first patient has had all visits, a simulated radiologist judges a",
    "  few studies (from the phantoms' truth); the Model performance page shows the figures, each edge",
    `  assembles a training set from its own kept inputs, and vigil-demo ${DEMO_FIELD_VERSION} is fine-tuned on them and published.`,
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
  const patients = await hub.state.followup.listPatients({ limit: 500 });
  const open = await hub.state.followup.listAlerts({ status: 'open', limit: 500 });
  const kinds = new Map<string, number>();
  for (const a of open.items) kinds.set(a.kind, (kinds.get(a.kind) ?? 0) + 1);
  const followUp = patients.items.filter((p) => p.studies > 1).length;
  const delivered = pacs.reduce((n, p) => n + p.received(), 0);
  process.stdout.write(
    `[${new Date().toISOString()}] ${states.filter((s) => s.status === 'online').length}/${CLINICS.length} devices online, ${history.length} telemetry samples stored, ${await hub.state.countResults()} results stored\n${rows.join('\n')}\n` +
      `  follow-up: ${patients.items.length} patients (${followUp} with follow-up studies), ${open.items.length} open alerts` +
      `${open.items.length ? ` (${[...kinds].map(([k, n]) => `${n} ${k}`).join(', ')})` : ''}; ` +
      `TOTP code for ${clinician.username} now: ${await currentTotp(clinician.totpSecret ?? '')}\n` +
      `  results to the clinics' PACS: ${delivered} objects (AI results SR and presentation states) delivered\n`,
  );
}

// The simulated modalities: each clinic follows three phantom patients with growing masses; each
// patient's visits arrive one after the other, one four-view study per clinic every few seconds.
const DEMO_SEED = 2026;
const VISITS = 4;
const patients = pickFollowupPatients(DEMO_SEED, CLINICS.length * 3, VISITS);
let round = 0;
const modality = new SimulatedModalities(join(demoDir, 'modality-cache'));
// A real dataset: converted once into a folder outside the repository, one study per woman, dealt to
// the clinics in turn; each is sent once (sending it again would only be recognised as a duplicate).
const datasetWork = values.dataset ? mkdtempSync(join(tmpdir(), 'vigil-demo-dataset-')) : undefined;
const datasetStudies =
  values.dataset && datasetWork
    ? await prepareDatasetStudies(values.dataset, datasetWork, join(demoDir, 'modality-cache'), Number(values['dataset-women']))
    : undefined;
if (datasetStudies)
  process.stdout.write(
    `  Real images: ${datasetStudies.length} women of ${values.dataset} (converted to DICOM MG outside the repository), one study each, dealt to the ${CLINICS.length} clinics.\n`,
  );
/** Rounds after which every clinic has sent enough for the feedback loop. */
const FEEDBACK_AFTER_ROUNDS = datasetStudies ? Math.min(4, Math.ceil(datasetStudies.length / CLINICS.length)) : VISITS;
async function sendRound(): Promise<void> {
  if (datasetStudies) {
    await Promise.all(
      dicomPorts.map((port, clinic) => {
        const study = datasetStudies[round * CLINICS.length + clinic];
        if (!study) return Promise.resolve();
        return modality
          .sendFiles(port, study.paths)
          .then(() => undefined)
          .catch((error: Error) => logger.warn({ err: error.message }, 'demo modality could not send'));
      }),
    );
    round += 1;
    return;
  }
  const slot = round % (3 * VISITS);
  await Promise.all(
    dicomPorts.map((port, clinic) => {
      const patient = patients[clinic * 3 + Math.floor(slot / VISITS)];
      if (!patient) return Promise.resolve();
      return modality
        .sendStudy(port, patient, slot % VISITS, DEMO_SEED)
        .catch((error: Error) => logger.warn({ err: error.message }, 'demo modality could not send'));
    }),
  );
  round += 1;
}
let stopping = false;
let inFlight: Promise<void> = Promise.resolve();
// Rounds never overlap: rendering a study takes CPU the edges need, so a slow machine sends less often.
const rounds = values.rounds ? Number(values.rounds) : Number.POSITIVE_INFINITY;
/** The feedback loop runs once, when every clinic's first patient has had all their visits. */
let feedback: Promise<void> | undefined;
function startFeedback(): void {
  if (values['skip-feedback'] || feedback) return;
  feedback = (async () => {
    while (!stopping && !(await allProcessed())) await new Promise((resolve) => setTimeout(resolve, 500));
    if (stopping) return;
    await runFeedbackLoop({
      hub,
      httpUrl,
      cacheDir: join(demoDir, 'modality-cache'),
      secret: DEMO_PSEUDONYM_SECRET,
      devices: feedbackDevices,
      modelDir: MODEL_DIR,
      version: DEMO_FIELD_VERSION,
      privateKeyPem: demoKey.privateKeyPem,
      workDir: join(demoDir, 'feedback'),
      studies: 6,
      train: !values['skip-feedback-training'],
      write: (line) => process.stdout.write(`${line}\n`),
    });
  })().catch((error: Error) => logger.warn({ err: error.message }, 'demo feedback loop failed'));
}
async function modalities(): Promise<void> {
  const intervalMs = Number(values['study-interval']) * 1000;
  while (!stopping && round < rounds) {
    const started = Date.now();
    inFlight = sendRound();
    await inFlight;
    if (round === FEEDBACK_AFTER_ROUNDS) startFeedback();
    if (datasetStudies && round * CLINICS.length >= datasetStudies.length) break; // every woman sent
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, intervalMs - (Date.now() - started))));
  }
}
/** Every image received so far is processed and every result is acknowledged by the hub. */
async function allProcessed(): Promise<boolean> {
  for (const agent of agents) {
    await agent.intake?.pipeline.idle();
    if (agent.outbox.stats().results > 0) return false;
  }
  return true;
}
void modalities().then(async () => {
  if (!Number.isFinite(rounds)) return;
  while (!stopping && !(await allProcessed())) await new Promise((resolve) => setTimeout(resolve, 500));
  await feedback;
  await stop();
});
writeFileSync(join(demoDir, CLINICS[2]?.deviceId ?? 'east-mg-1', 'inbox', 'corrupt-export.dcm'), Buffer.alloc(4096, 0x42));

const ticker = setInterval(() => void report(), 5000);
/**
 * Before the last report: a fresh telemetry sample from every edge, taken once its pipeline is idle,
 * and waited for at the hub (at most 30 s), so the per-device counts printed are final, not the last
 * periodic sample's.
 */
async function finalTelemetry(): Promise<void> {
  const sent = await Promise.all(
    agents.map(async (agent) => {
      await agent.intake?.pipeline.idle();
      return agent.telemetry.sampleAndEnqueue();
    }),
  );
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const states = await hub.state.listDeviceStates();
    const arrived = sent.every(
      (m) => !m || states.some((s) => s.deviceId === m.deviceId && (s.lastTelemetry?.sampledAt ?? '') >= m.sampledAt),
    );
    if (arrived) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(ticker);
  await inFlight;
  await feedback;
  await modality.close();
  await finalTelemetry();
  await report();
  // Every result in is in its timeline; then the alerts are judged against the phantoms' truth.
  await hub.followup.settled();
  if (datasetWork) rmSync(datasetWork, { recursive: true, force: true });
  if (datasetStudies) process.stdout.write('  (one study per woman: no follow-up alerts to judge on a dataset)\n');
  else
    try {
      process.stdout.write(
        `${formatDemoAlerts(await tallyDemoAlerts(hub, join(demoDir, 'modality-cache'), DEMO_PSEUDONYM_SECRET))}\n`,
      );
    } catch (error) {
      logger.warn({ err: (error as Error).message }, 'demo could not judge its alerts');
    }
  for (const agent of agents) await agent.stop();
  for (const p of pacs) p.close();
  await hub.stop();
  process.stdout.write('Vigil demo stopped.\n');
  process.exit(0);
}
process.once('SIGINT', () => void stop());
process.once('SIGTERM', () => void stop());
if (values.duration) setTimeout(() => void stop(), Number(values.duration) * 1000);
