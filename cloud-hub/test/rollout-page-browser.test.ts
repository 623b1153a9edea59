// The rollout page in headless Debian Chromium: an ops user starts a rollout from the dashboard and
// watches its waves, per-device states and gate figures update live until it completes; then rolls
// it back by hand. Screenshots in test-artifacts/screenshots/.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, it } from 'node:test';
import { Hub, loadHubConfig } from '@vigil/cloud-hub';
import { EdgeAgent } from '@vigil/edge-agent';
import { type Browser, chromium } from 'playwright-core';
// @ts-expect-error plain ESM helper without types
import { ensureDashboard } from '../../scripts/ensure-dashboard.mjs';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeConfig } from '../../scripts/harness/hub-fixture.js';
import {
  BUNDLED_MODEL,
  BUNDLED_VERSION,
  generateSigningKey,
  modelVersion,
  packAndSign,
  phantomImages,
} from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { currentTotp } from '../src/auth/totp.js';
import { type ProvisionedUser, provisionUser } from '../src/auth/user-provisioning.js';

const SHOTS = join(new URL('../..', import.meta.url).pathname, 'test-artifacts', 'screenshots');
const dir = makeTempDir('rollout-ui');
const key = generateSigningKey();
let hub: Hub;
let browser: Browser;
let ops: ProvisionedUser;
const edges: EdgeAgent[] = [];

before(async () => {
  ensureDashboard();
  mkdirSync(SHOTS, { recursive: true });
  const [reference] = await phantomImages(join(dir.path, 'ref'), 1, 91);
  hub = new Hub(
    loadHubConfig(
      undefined,
      {},
      {
        dataDir: join(dir.path, 'hub'),
        http: { port: 0 },
        mqtt: { listen: { port: await freePort() } },
        models: { trustedKeys: [key.publicKeyPem] },
        rollout: { tickMs: 150 },
      },
    ),
  );
  await hub.start();
  for (const [version, source] of [
    [BUNDLED_VERSION, BUNDLED_MODEL],
    ['0.2.1', modelVersion(BUNDLED_MODEL, join(dir.path, 'm'), '0.2.1')],
  ] as const) {
    const pkg = await packAndSign(source, reference as string, join(dir.path, `${version}.vpkg`), key.privateKeyPem);
    await hub.models.publish(pkg.path, pkg.signature, 'test');
  }
  ops = await provisionUser(hub.auth, hub.state.audit, {
    username: 'ops.lead',
    displayName: 'Ops Lead',
    role: 'ops',
    enrolTotp: true,
    actor: 'test',
  });
  for (let i = 0; i < 4; i++) {
    const deviceId = `room-${i + 1}`;
    const clinicId = i < 2 ? 'clinic-north' : 'clinic-south';
    const password = (await hub.registry.add({ clinicId, deviceId })).password;
    const agent = new EdgeAgent(
      edgeConfig(
        {
          clinicId,
          deviceId,
          password,
          mqttUrl: `mqtt://127.0.0.1:${hub.mqttPorts.plain}`,
          dataDir: join(dir.path, deviceId),
          telemetryIntervalS: 1,
        },
        {
          VIGIL_MODEL__DIR: BUNDLED_MODEL,
          VIGIL_MODEL__THREADS: '1',
          VIGIL_MODEL__TRUSTED_KEYS: JSON.stringify([key.publicKeyPem]),
        },
      ),
    );
    await agent.start();
    edges.push(agent);
  }
  await waitFor(
    'devices report their model',
    async () => (await hub.state.listDeviceStates()).filter((d) => d.model).length === 4,
  );
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
});

after(async () => {
  await browser?.close();
  for (const e of edges) await e.stop();
  await hub?.stop();
  dir.remove();
});

it('starts a rollout from the dashboard, shows its waves and gates live, and rolls it back by hand', async () => {
  const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`http://127.0.0.1:${hub.httpPort}`);
  await page.getByLabel('Username').fill(ops.username);
  await page.getByLabel('Password').fill(ops.password);
  await page.getByLabel(/Authenticator code/).fill(await currentTotp(ops.totpSecret ?? ''));
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Fleet' }).waitFor();
  await page.getByRole('link', { name: 'Rollouts' }).click();
  await page.getByRole('heading', { name: 'Start a rollout' }).waitFor();
  await page.getByLabel('Model', { exact: true }).selectOption('vigil-demo@0.2.1');
  await page.getByLabel('Waves (cumulative)').fill('1,50%,100%');
  await page.getByLabel('Bake time per wave (s)').fill('1');
  // No images arrive in this test, so the data-hungry gates must not wait for results.
  await page.getByLabel('Results needed before drift/latency gates pass').fill('0');
  await page.screenshot({ path: join(SHOTS, '10-rollouts.png'), fullPage: true });
  await page.getByRole('button', { name: 'Start rollout' }).click();
  await page.getByRole('heading', { name: /^Rollout ro-/ }).waitFor();
  await page.getByText('Wave 3 of 3').waitFor();
  await page.locator('.rstate-completed').first().waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('.dstate-installed').count(), 4);
  assert.ok((await page.locator('.gate').count()) === 4, 'four gate figures');
  await page.screenshot({ path: join(SHOTS, '11-rollout-completed.png'), fullPage: true });
  assert.ok(edges.every((e) => e.models?.active?.ref.version === '0.2.1'));

  await page.getByRole('button', { name: 'Roll back' }).click();
  await page.locator('.rstate-rolled-back').first().waitFor({ timeout: 60_000 });
  assert.equal(await page.locator('.dstate-rolled-back').count(), 4);
  await page.screenshot({ path: join(SHOTS, '12-rollout-rolled-back.png'), fullPage: true });
  assert.ok(edges.every((e) => e.models?.active?.ref.version === BUNDLED_VERSION));
  assert.deepEqual(errors, []);
  const audit = await hub.state.audit.list({ action: 'rollout.rollback', limit: 5 });
  assert.equal(audit.items[0]?.actor, 'ops.lead');
});
