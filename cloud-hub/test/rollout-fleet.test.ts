// A real hub and six edge agents (three clinics) (in-process, real MQTT, real HTTP downloads, real ONNX Runtime):
// a good model rolls out wave by wave; a model failing self-test on some devices, a drifting
// model and a tampered package each trip a gate and the fleet returns to the previous model; an
// edge offline during a rollout converges when it comes back; a hub killed mid-rollout resumes it.
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Hub, loadHubConfig } from '@vigil/cloud-hub';
import { EdgeAgent, type OutputMeasure, referenceOutput, runSelfTest } from '@vigil/edge-agent';
import { ApiClient } from '../../scripts/harness/api-client.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import {
  BUNDLED_MODEL,
  BUNDLED_VERSION,
  driftedModel,
  generateSigningKey,
  modelVersion,
  packAndSign,
  phantomImages,
  type SignedPackage,
} from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { provisionUser } from '../src/auth/user-provisioning.js';
import type { RolloutDevice, RolloutRecord } from '../src/rollout/rollout-store.js';

// Six edges, two per clinic: enough for three waves of different sizes and a partial install failure;
// each edge is a real agent running ONNX, so more would only lengthen the suite.
const DEVICES = 6;
const dir = makeTempDir('fleet');
const key = generateSigningKey();
const packages = new Map<string, SignedPackage>();
let hubConfig: ReturnType<typeof loadHubConfig>;
let hub: Hub;
let api: ApiClient;
const edges: EdgeAgent[] = [];
const passwords: string[] = [];
/** Per device: real devices never see another device's SOP Instance UIDs (result ids derive from them). */
const images: string[][] = [];
let fed = 0;
/** Images each edge has seen: the spool recognises a resent SOP Instance UID and skips it. */
const seen = new Map<number, number>();

const deviceId = (i: number) => `mg-${String(i).padStart(2, '0')}`;

function startEdge(i: number): EdgeAgent {
  const config = edgeConfig(
    {
      clinicId: `clinic-${i % 3}`,
      deviceId: deviceId(i),
      password: passwords[i] as string,
      mqttUrl: `mqtt://127.0.0.1:${hubConfig.mqtt.listen.port}`,
      dataDir: join(dir.path, deviceId(i)),
      telemetryIntervalS: 1,
    },
    {
      VIGIL_MODEL__DIR: BUNDLED_MODEL,
      VIGIL_MODEL__THREADS: '1',
      VIGIL_MODEL__TRUSTED_KEYS: JSON.stringify([key.publicKeyPem]),
      VIGIL_WATCH_FOLDER__PATH: join(dir.path, deviceId(i), 'inbox'),
      VIGIL_WATCH_FOLDER__INTERVAL_MS: '100',
      VIGIL_WATCH_FOLDER__STABLE_MS: '100',
      VIGIL_DEID__SECRET: 'fleet-test-pseudonym-secret',
      VIGIL_IMAGING__DECODE_THREADS: '1',
    },
  );
  const agent = new EdgeAgent(config, {
    selfTest: (model, packageDir) =>
      runSelfTest(model, packageDir, faultyProvider.has(i) ? faultyProviderOutput : referenceOutput),
  });
  edges[i] = agent;
  return agent;
}

/** Devices whose (simulated) GPU provider computes wrong outputs. */
const faultyProvider = new Set<number>();

/** NAMED MOCK for what cannot run here: a faulty GPU execution provider, off by 0.5 in score. */
const faultyProviderOutput: OutputMeasure = async (model, imagePath) => {
  const out = await referenceOutput(model, imagePath);
  return { ...out, score: Math.min(1, out.score + 0.5) };
};

async function startHub(): Promise<void> {
  hub = new Hub(hubConfig);
  await hub.start();
}

/** Drops `perDevice` phantom images into every running edge's watched folder and waits for the results. */
async function feed(perDevice: number, only?: number[]): Promise<void> {
  const targets = (only ?? edges.map((_, i) => i)).filter((i) => edges[i]?.intake);
  const before = new Map(targets.map((i) => [i, edges[i]?.counters.processed ?? 0]));
  for (const i of targets) {
    for (let k = 0; k < perDevice; k++) {
      fed += 1;
      const next = seen.get(i) ?? 0;
      seen.set(i, next + 1);
      copyFileSync(images[i]?.[next % 8] as string, join(dir.path, deviceId(i), 'inbox', `img-${fed}.dcm`));
    }
  }
  await waitFor(
    'fleet condition',
    () => targets.every((i) => (edges[i]?.counters.processed ?? 0) >= (before.get(i) ?? 0) + perDevice),
    60_000,
  );
  // Every result delivered. (Not "every outbox empty": six edges sampling telemetry each second are
  // seldom all empty at the same instant on a busy machine.)
  await waitFor('fleet condition: results delivered', () => edges.every((e) => !e || e.outbox.stats().results === 0), 30_000);
}

async function status(id: string): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[] }> {
  const r = await api.get<{ rollout: RolloutRecord; devices: RolloutDevice[] }>(`/api/v1/rollouts/${id}`);
  assert.equal(r.status, 200);
  return r.body;
}

async function until(
  id: string,
  states: RolloutRecord['state'][],
  timeoutMs = 90_000,
): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[] }> {
  let last: { rollout: RolloutRecord; devices: RolloutDevice[] } | undefined;
  const terminal: RolloutRecord['state'][] = ['completed', 'rolled-back', 'aborted'];
  await waitFor(
    'fleet condition',
    async () => {
      last = await status(id);
      // A different terminal state will not change any more: fail now, not at the timeout.
      return states.includes(last.rollout.state) || terminal.includes(last.rollout.state);
    },
    timeoutMs,
  ).catch(() => undefined);
  if (!last || !states.includes(last.rollout.state)) {
    const devices = last?.devices.map((d) => `${d.deviceId}:${d.state}${d.reason ? ` (${d.reason})` : ''}`).join('; ');
    assert.fail(`rollout ${id} did not reach ${states.join('/')}: ${JSON.stringify(last?.rollout)} devices: ${devices}`);
  }
  return last as { rollout: RolloutRecord; devices: RolloutDevice[] };
}

async function start(version: string, body: Record<string, unknown> = {}): Promise<string> {
  const r = await api.post<{ rollout: RolloutRecord; error?: unknown }>('/api/v1/rollouts', {
    model: { name: 'vigil-demo', version },
    bakeS: 0.5,
    gates: { minSamples: 0 },
    ...body,
  });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body.rollout.rolloutId;
}

const activeVersions = () => edges.map((e) => e?.models?.active?.ref.version);

before(async () => {
  for (let i = 0; i < DEVICES; i++) images[i] = await phantomImages(join(dir.path, 'images', String(i)), 8, 500 + i);
  const [reference] = await phantomImages(join(dir.path, 'reference'), 1, 77);
  const versions: [string, string][] = [
    [BUNDLED_VERSION, BUNDLED_MODEL],
    ['0.2.1', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.1'), '0.2.1')],
    ['0.2.2', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.2'), '0.2.2')],
    ['0.9.0', driftedModel(join(dir.path, 'm-0.9.0'), '0.9.0')],
    ['0.2.3', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.3'), '0.2.3')],
    ['0.2.4', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.4'), '0.2.4')],
    ['0.2.5', modelVersion(BUNDLED_MODEL, join(dir.path, 'm-0.2.5'), '0.2.5')],
  ];
  for (const [version, modelDir] of versions) {
    packages.set(
      version,
      await packAndSign(modelDir, reference as string, join(dir.path, `vigil-demo-${version}.vpkg`), key.privateKeyPem),
    );
  }
  hubConfig = loadHubConfig(
    undefined,
    {},
    {
      dataDir: join(dir.path, 'hub'),
      http: { port: await freePort() },
      mqtt: { listen: { port: await freePort() } },
      models: { trustedKeys: [key.publicKeyPem] },
      rollout: { tickMs: 150 },
    },
  );
  await startHub();
  for (const [, pkg] of packages) await hub.models.publish(pkg.path, pkg.signature, 'test');
  const ops = await provisionUser(hub.auth, hub.state.audit, { username: 'ops1', role: 'ops', enrolTotp: true, actor: 'test' });
  const login = await new ApiClient(`http://127.0.0.1:${hub.httpPort}`).post('/api/v1/auth/login', {
    username: 'ops1',
    password: ops.password,
    recoveryCode: ops.recoveryCodes[0],
  });
  const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
  const token = await new ApiClient(`http://127.0.0.1:${hub.httpPort}`, {
    cookie,
    csrfToken: (login.body as { csrfToken: string }).csrfToken,
  }).post<{ token: string }>('/api/v1/tokens', { name: 'fleet test' });
  api = new ApiClient(`http://127.0.0.1:${hub.httpPort}`, { bearer: token.body.token });
  for (let i = 0; i < DEVICES; i++) {
    passwords[i] = (await hub.registry.add({ clinicId: `clinic-${i % 3}`, deviceId: deviceId(i) })).password;
  }
  await Promise.all(Array.from({ length: DEVICES }, (_, i) => startEdge(i).start()));
  await waitFor(
    'fleet condition',
    async () => (await hub.state.listDeviceStates()).filter((d) => d.model?.version === BUNDLED_VERSION).length === DEVICES,
    30_000,
  );
  await feed(2);
});

after(async () => {
  for (const e of edges) await e?.stop().catch(() => undefined);
  await hub?.stop().catch(() => undefined);
  dir.remove();
});

describe('fleet rollout', () => {
  it('rolls a good model out wave by wave (1 → 10 % → 50 % → 100 %) to all six devices', async (t) => {
    const started = Date.now();
    const id = await start('0.2.1', { waves: '1,10%,50%,100%', bakeS: 1 });
    const initial = await status(id);
    assert.deepEqual(
      [0, 1, 2].map((w) => initial.devices.filter((d) => d.wave === w).length),
      // 10 % of six is one device, already the canary: three waves of 1, 2 and 3.
      [1, 2, 3],
    );
    assert.equal(initial.devices.filter((d) => d.state === 'desired').length, 1, 'only the canary gets it first');
    await waitFor('fleet condition', async () => (await status(id)).rollout.currentWave >= 1, 30_000);
    const midway = await status(id);
    assert.equal(midway.devices.filter((d) => d.wave === 2 && d.state !== 'pending').length, 0, 'wave 3 waits for wave 2');
    const done = await until(id, ['completed']);
    t.diagnostic(`3-wave rollout to ${DEVICES} devices with 1 s bake: ${((Date.now() - started) / 1000).toFixed(1)} s`);
    assert.ok(done.devices.every((d) => d.state === 'installed'));
    assert.deepEqual(activeVersions(), new Array(DEVICES).fill('0.2.1'));
    assert.deepEqual(
      edges.map((e) => e.models?.previous?.ref.version),
      new Array(DEVICES).fill(BUNDLED_VERSION),
      'the previous model is kept for rollback',
    );
    const models = await api.get<{ items: { version: string; devices: number }[] }>('/api/v1/models');
    assert.equal(models.body.items.find((m) => m.version === '0.2.1')?.devices, DEVICES);
  });

  it('trips the install gate when the model fails self-test on some devices, and the fleet returns to the previous model', async (t) => {
    await feed(1);
    for (const i of [1, 3, 5]) faultyProvider.add(i);
    try {
      const id = await start('0.2.2', { waves: '1,50%,100%' });
      const tripped = await until(id, ['rolling-back', 'rolled-back']);
      const trippedAt = Date.now();
      assert.match(tripped.rollout.reason ?? '', /install-failures/);
      const done = await until(id, ['rolled-back']);
      t.diagnostic(`tripped gate → fleet back on the previous model: ${((Date.now() - trippedAt) / 1000).toFixed(2)} s`);
      const failed = done.devices.filter((d) => /VIGIL_MODEL_SELF_TEST_FAILED/.test(d.reason ?? ''));
      assert.ok(failed.length >= 1);
      assert.ok(failed.every((d) => [1, 3, 5].map(deviceId).includes(d.deviceId)));
      await waitFor('fleet condition', () => activeVersions().every((v) => v === '0.2.1'), 20_000);
      const trips = await hub.state.audit.list({ action: 'rollout.trip', limit: 10 });
      assert.ok(
        trips.items.some((e) => e.actor === 'system' && e.targetId === id),
        'the automatic rollback is audited',
      );
    } finally {
      faultyProvider.clear();
    }
  });

  it('trips the drift gate on a model whose score distribution shifts, comparing the same devices', async () => {
    await feed(1);
    const id = await start('0.9.0', { waves: '1,100%', bakeS: 30, gates: { minSamples: 3, maxPsi: 0.25 } });
    await waitFor('fleet condition', async () => (await status(id)).devices.some((d) => d.state === 'installed'), 30_000);
    const canary = (await status(id)).devices.find((d) => d.state === 'installed');
    assert.ok(canary);
    await feed(3, [Number(canary.deviceId.slice(3))]);
    const done = await until(id, ['rolled-back']);
    const drift = done.rollout.gates.find((g) => g.gate === 'score-drift');
    assert.equal(drift?.status, 'fail');
    assert.ok((drift?.value ?? 0) > 0.25, `PSI ${drift?.value}`);
    await waitFor('fleet condition', () => activeVersions().every((v) => v === '0.2.1'), 20_000);
  });

  it('refuses a tampered package on every edge and keeps the current model running', async () => {
    const record = await hub.state.rollouts.getPackage('vigil-demo', '0.2.3');
    assert.ok(record);
    const path = hub.models.path(record);
    const bytes = readFileSync(path);
    bytes[bytes.length - 100] = (bytes[bytes.length - 100] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const id = await start('0.2.3', { waves: '100%' });
    const done = await until(id, ['rolled-back']);
    assert.ok(
      done.devices.some((d) => /VIGIL_MODEL_INVALID: package SHA-256/.test(d.reason ?? '')),
      'the rollout names the refusal',
    );
    // Each edge refused it itself (the first refusal already trips the gate; the others were downloading too).
    await waitFor('every edge refused the tampered package', () =>
      edges.every(
        (e) => e.models?.lastRefusal?.model.version === '0.2.3' && /package SHA-256 is/.test(e.models.lastRefusal.message),
      ),
    );
    assert.deepEqual(activeVersions(), new Array(DEVICES).fill('0.2.1'));
    // Images are still analysed by the current model.
    await feed(1, [0]);
  });

  it('brings an edge that was offline during the rollout up to date when it reconnects', async () => {
    await edges[4]?.stop();
    const id = await start('0.2.4', { waves: '100%' });
    await waitFor('fleet condition', () => edges.every((e, i) => i === 4 || e.models?.active?.ref.version === '0.2.4'), 30_000);
    assert.equal((await status(id)).rollout.state, 'running', 'waits for the offline device');
    await startEdge(4).start();
    const done = await until(id, ['completed']);
    assert.ok(done.devices.every((d) => d.state === 'installed'));
    assert.equal(edges[4]?.models?.active?.ref.version, '0.2.4');
  });

  it('resumes a rollout where it was after the hub is killed mid-rollout', async () => {
    const id = await start('0.2.5', { waves: '1,50%,100%', bakeS: 2 });
    await waitFor('fleet condition', async () => (await status(id)).rollout.currentWave >= 1, 30_000);
    await hub.stop();
    await startHub();
    const done = await until(id, ['completed']);
    assert.ok(done.devices.every((d) => d.state === 'installed'));
    await waitFor('fleet condition', () => activeVersions().every((v) => v === '0.2.5'), 20_000);
  });
});
