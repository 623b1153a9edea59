// Issue 14, item 5: who is this patient? — answered inside the clinic only. Each clinic's edge keeps an
// encrypted index from pseudonym to patient; a clinician's browser gets a short-lived token from the
// hub and asks the edge directly. A token for clinic A does not open clinic B's edge; expired and
// forged tokens are refused; CORS admits the hub's origin only; every re-identification is audited at
// the edge and reported to the hub's audit log without the identity.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { reidSigningKey } from '@vigil/cloud-hub';
import { EdgeAgent, loadEdgeConfig } from '@vigil/edge-agent';
import { generateSigningKey, pseudonym, reidAudience, signReidToken } from '@vigil/shared';
import { chromium } from 'playwright-core';
import { currentTotp } from '../../cloud-hub/src/auth/totp.js';
import { provisionUser } from '../../cloud-hub/src/auth/user-provisioning.js';
// @ts-expect-error plain ESM helper without types
import { ensureDashboard } from '../../scripts/ensure-dashboard.mjs';
import { ApiClient, login } from '../../scripts/harness/api-client.js';
import { clinicEndpointEnv } from '../../scripts/harness/clinic-endpoint.js';
import { freePort } from '../../scripts/harness/free-port.js';
import { edgeEnv, startTestHub } from '../../scripts/harness/hub-fixture.js';
import { BUNDLED_MODEL } from '../../scripts/harness/model-packages.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { generatePhantoms } from '../../scripts/phantoms/generate-phantoms.js';

const SHOTS = join(new URL('../..', import.meta.url).pathname, 'test-artifacts', 'screenshots');

const SECRET = 'reid-test-pseudonym-secret-0123456789';

test('names for pseudonyms at the clinic edge only: scoped, short-lived, audited without the identity', async () => {
  ensureDashboard();
  const dir = makeTempDir('reid');
  const ports = { 'mg-a': await freePort(), 'mg-b': await freePort() };
  const hub = await startTestHub({
    auth: { loginRateLimitPerMinute: 1000 },
    reid: { edgeOrigins: Object.values(ports).map((p) => `http://127.0.0.1:${p}`) },
  });
  const agents: EdgeAgent[] = [];
  try {
    const truth = await generatePhantoms({
      out: join(dir.path, 'phantoms'),
      patients: 2,
      visits: 1,
      seed: 9393,
      rows: 1024,
      columns: 832,
    });
    const { publicKeyFile } = reidSigningKey(hub.hub.config.dataDir, '');
    const passwords: Record<string, string> = {};
    const edge = async (clinicId: string, deviceId: string, patient: (typeof truth.patients)[number]) => {
      const password = await hub.addDevice(clinicId, deviceId);
      passwords[deviceId] = password;
      const inbox = join(dir.path, deviceId, 'inbox');
      const agent = new EdgeAgent(
        loadEdgeConfig(undefined, {
          ...edgeEnv({
            clinicId,
            deviceId,
            password,
            mqttUrl: hub.mqttUrl,
            dataDir: join(dir.path, deviceId),
            telemetryIntervalS: 0.3,
          }),
          VIGIL_HUB_URL: hub.httpUrl,
          VIGIL_MODEL__DIR: BUNDLED_MODEL,
          VIGIL_DEID__SECRET: SECRET,
          VIGIL_WATCH_FOLDER__PATH: inbox,
          VIGIL_WATCH_FOLDER__INTERVAL_MS: '100',
          VIGIL_WATCH_FOLDER__STABLE_MS: '0',
          ...clinicEndpointEnv({
            port: ports[deviceId as keyof typeof ports],
            hubPublicKeyFile: publicKeyFile,
            dashboardUrl: hub.httpUrl,
          }),
        }),
      );
      agents.push(agent);
      await agent.start();
      mkdirSync(inbox, { recursive: true });
      const image = patient.visits[0]?.images[0];
      assert.ok(image);
      cpSync(join(dir.path, 'phantoms', image.file), join(inbox, 'image.dcm'));
      return agent;
    };
    const [pa, pb] = truth.patients as [(typeof truth.patients)[0], (typeof truth.patients)[0]];
    const a = await edge('clinic-a', 'mg-a', pa);
    const b = await edge('clinic-b', 'mg-b', pb);
    await waitFor('both results at the hub', async () => (await hub.hub.state.countResults()) === 2, 120_000);
    const keyA = pseudonym(SECRET, 'patient', `VIGIL-PHANTOMS|${pa.patientId}`);
    const keyB = pseudonym(SECRET, 'patient', `VIGIL-PHANTOMS|${pb.patientId}`);
    assert.ok(
      (await hub.hub.state.queryResults({ patientKey: keyA, limit: 1 })).items.length === 1,
      'the pseudonym as the edge makes it',
    );

    const users: Record<string, { password: string; totpSecret: string | null }> = {};
    const user = async (username: string, clinics?: string[]) => {
      const created = await provisionUser(hub.hub.auth, hub.hub.state.audit, {
        username,
        role: 'clinician',
        enrolTotp: true,
        actor: 'test',
        ...(clinics ? { clinics } : {}),
      });
      users[username] = created;
      const { client } = await login(hub.httpUrl, username, created.password, created.totpSecret);
      const token = await client.post<{ token: string }>('/api/v1/tokens', { name: 'test' });
      return new ApiClient(hub.httpUrl, { bearer: token.body.token });
    };
    const drA = await user('dr.a', ['clinic-a']);
    await waitFor('edges advertise their endpoints', async () => {
      const states = await hub.hub.state.listDeviceStates();
      return states.filter((s) => s.lastTelemetry?.reid?.url).length === 2;
    });
    type Grant = { expiresAt: string; edges: { clinicId: string; deviceId: string; url: string; token: string }[] };
    const issued = await drA.post<Grant>('/api/v1/reid/token');
    assert.equal(issued.status, 200);
    assert.deepEqual(
      issued.body.edges.map((e) => e.clinicId),
      ['clinic-a'],
      "only the edges of the user's clinics",
    );
    const resolve = (url: string, token: string, keys: string[], origin = hub.httpUrl) =>
      fetch(`${url}/reid/v1/resolve`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', origin },
        body: JSON.stringify({ patientKeys: keys }),
      });
    const urlA = a.reidUrl() as string;
    const urlB = b.reidUrl() as string;
    const tokenA = issued.body.edges[0]?.token as string;
    const answer = await resolve(urlA, tokenA, [keyA, keyB]);
    assert.equal(answer.status, 200);
    assert.equal(answer.headers.get('access-control-allow-origin'), hub.httpUrl);
    const body = (await answer.json()) as { patients: { patientKey: string; patientId: string; patientName: string }[] };
    assert.deepEqual(
      body.patients.map((p) => [p.patientKey, p.patientId]),
      [[keyA, pa.patientId]],
      "clinic A's edge knows its own patient only",
    );
    const name = body.patients[0]?.patientName ?? '';
    assert.ok(name.includes('^'), `a DICOM person name: ${name}`);

    // A token opens only the edge it was made for (its audience); one for clinic B's edge naming a
    // clinic-A user is refused there by clinic; expired and forged tokens open nothing.
    const other = await resolve(urlB, tokenA, [keyB]);
    assert.equal(other.status, 401, "edge A's token at edge B");
    assert.equal(((await other.json()) as { error: { code: string } }).error.code, 'VIGIL_REID_TOKEN_INVALID');
    const hubKey = readFileSync(join(hub.hub.config.dataDir, 'reid-signing-key.pem'), 'utf8');
    const dra = { username: 'dr.a', role: 'clinician', clinics: ['clinic-a'] };
    const atB = await signReidToken(dra, hubKey, 60, reidAudience('clinic-b', 'mg-b'));
    const wrongClinic = await resolve(urlB, atB.token, [keyB]);
    assert.equal(wrongClinic.status, 403);
    const expired = await signReidToken(dra, hubKey, -60, reidAudience('clinic-a', 'mg-a'));
    assert.equal((await resolve(urlA, expired.token, [keyA])).status, 401);
    const forged = await signReidToken(
      { username: 'dr.a', role: 'clinician', clinics: null },
      generateSigningKey().privateKeyPem,
      300,
      reidAudience('clinic-a', 'mg-a'),
    );
    assert.equal((await resolve(urlA, forged.token, [keyA])).status, 401);
    assert.equal((await resolve(urlA, '', [keyA])).status, 401);
    const malformed = await resolve(urlA, tokenA, ['not-a-pseudonym']);
    assert.equal(malformed.status, 400, 'a malformed request is refused with a coded error');
    assert.equal(((await malformed.json()) as { error: { code: string } }).error.code, 'VIGIL_API_INVALID_REQUEST');
    // The hub's device routes take a device's own credentials only.
    for (const [method, path, body] of [
      ['GET', '/api/v1/device/labels', undefined],
      ['POST', '/api/v1/device/reidentifications', JSON.stringify({ events: [] })],
    ] as const) {
      const refused = await fetch(`${hub.httpUrl}${path}`, {
        method,
        headers: {
          authorization: `Basic ${Buffer.from('mg-a:wrong-password').toString('base64')}`,
          'content-type': 'application/json',
        },
        ...(body ? { body } : {}),
      });
      assert.equal(refused.status, 401, path);
      assert.match(refused.headers.get('www-authenticate') ?? '', /Basic/);
    }

    // CORS: the hub's dashboard may ask; another origin gets no permission.
    const preflight = (origin: string) =>
      fetch(`${urlA}/reid/v1/resolve`, {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      });
    assert.equal((await preflight(hub.httpUrl)).headers.get('access-control-allow-origin'), hub.httpUrl);
    assert.equal((await preflight('https://evil.example')).headers.get('access-control-allow-origin'), null);

    // Audited at the edge and reported to the hub: who, which pseudonym — never the name.
    const audit = async () => (await hub.hub.state.audit.list({ action: 'patient.reidentify', limit: 100 })).items;
    const events = async () => (await hub.hub.state.audit.list({ action: 'reid.event', limit: 100 })).items;
    await waitFor('re-identifications in the hub audit log', async () => {
      const items = await audit();
      return (
        items.some((e) => e.actor === 'dr.a' && e.patientKey === keyA && e.outcome === 'success') &&
        (await events()).filter((e) => e.outcome === 'failure').length >= 4
      );
    });
    // The actor is the token's subject: the clinic refusal names dr.a (her token was valid), the
    // refusals without a valid token name nobody.
    const refusals = (await events()).filter((e) => e.outcome === 'failure');
    assert.ok(refusals.some((e) => e.actor === 'dr.a' && (e.details as { reason?: string }).reason === 'clinic'));
    assert.ok(refusals.filter((e) => e.actor === 'unknown').length >= 3);

    // Second review, item 5: a device's own words are never the actor. An event naming "admin" with
    // no token, one whose token belongs to another clinic's user, a resend of the same event id,
    // and an oversized report.
    const deviceFetch = (body: string) =>
      fetch(`${hub.httpUrl}/api/v1/device/reidentifications`, {
        method: 'POST',
        headers: {
          authorization: `Basic ${Buffer.from(`mg-a:${passwords['mg-a']}`).toString('base64')}`,
          'content-type': 'application/json',
        },
        body,
      });
    const forgedEvent = {
      eventId: randomUUID(),
      at: new Date().toISOString(),
      username: 'admin',
      role: 'admin',
      patientKeys: [keyB],
      outcome: 'resolved',
    };
    const tokenOfB = (
      await signReidToken(
        { username: 'dr.b', role: 'clinician', clinics: ['clinic-b'] },
        hubKey,
        300,
        reidAudience('clinic-b', 'mg-b'),
      )
    ).token;
    const otherClinic = { ...forgedEvent, eventId: randomUUID(), token: tokenOfB };
    const first = await deviceFetch(JSON.stringify({ events: [forgedEvent, otherClinic] }));
    assert.equal(first.status, 200);
    assert.deepEqual(await first.json(), { recorded: 2, duplicates: 0, unverified: 2 });
    const again = await deviceFetch(JSON.stringify({ events: [forgedEvent, otherClinic] }));
    assert.deepEqual(await again.json(), { recorded: 0, duplicates: 2, unverified: 0 }, 'idempotent by event id');
    const byAdmin = (await audit()).filter((e) => e.actor === 'admin' || e.actor === 'dr.b');
    assert.deepEqual(byAdmin, [], 'no re-identification is attributed to a user the hub did not verify');
    const recordedClaims = (await events()).filter(
      (e) => e.targetId === forgedEvent.eventId || e.targetId === otherClinic.eventId,
    );
    assert.equal(recordedClaims.length, 2, 'each kept once, as an unverified claim');
    assert.ok(
      recordedClaims.every(
        (e) => e.outcome === 'failure' && /unverified/.test(String((e.details as { reason?: string }).reason)),
      ),
    );
    const tooMany = Array.from({ length: 21 }, () => ({ ...forgedEvent, eventId: randomUUID() }));
    assert.equal((await deviceFetch(JSON.stringify({ events: tooMany }))).status, 400, 'at most 20 events a report');
    const huge = JSON.stringify({ events: [{ ...forgedEvent, token: 'x'.repeat(300_000) }] });
    assert.equal((await deviceFetch(huge)).status, 413, 'a report is at most 256 KiB');
    // A network-wide user is offered both edges, each with its own token; a revoked edge no more.
    const net = await user('dr.net');
    const both = await net.post<Grant>('/api/v1/reid/token');
    assert.deepEqual(both.body.edges.map((e) => e.deviceId).sort(), ['mg-a', 'mg-b']);
    assert.notEqual(both.body.edges[0]?.token, both.body.edges[1]?.token);
    // Edge B is taken out of service (stopped), then revoked: its last telemetry still names its
    // endpoint, and the hub must not offer it.
    await b.stop();
    agents.splice(agents.indexOf(b), 1);
    await hub.hub.registry.revoke('mg-b');
    const afterRevoke = await net.post<Grant>('/api/v1/reid/token');
    assert.deepEqual(
      afterRevoke.body.edges.map((e) => e.deviceId),
      ['mg-a'],
      'a revoked edge is not offered to browsers',
    );
    const logged = JSON.stringify(await audit());
    assert.ok(!logged.includes(name.split('^')[0] as string) && !logged.includes(pa.patientId), 'no identity at the hub');
    const stored = JSON.stringify((await hub.hub.state.queryResults({ limit: 10 })).items);
    assert.ok(!stored.includes(pa.patientId) && !stored.includes(name.split('^')[0] as string));

    // In the browser: the timeline shows the real name while the clinic's edge answers, and only the
    // pseudonym once it does not (outside the clinic network).
    const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--disable-gpu'] });
    try {
      const page = await (await browser.newContext({ viewport: { width: 1366, height: 900 } })).newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      const dr = users['dr.a'];
      assert.ok(dr);
      await page.goto(hub.httpUrl);
      await page.getByLabel('Username').fill('dr.a');
      await page.getByLabel('Password').fill(dr.password);
      await page.getByLabel(/Authenticator code/).fill(await currentTotp(dr.totpSecret ?? '', Date.now() + 30_000));
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('heading', { name: 'Alerts' }).waitFor();
      await page.goto(`${hub.httpUrl}/#/patients/${keyA}`);
      const family = (name.split('^')[0] ?? '').toUpperCase();
      await page.locator('.real-name', { hasText: family }).first().waitFor();
      assert.match((await page.locator('.real-name').first().textContent()) ?? '', new RegExp(pa.patientId));
      await page.screenshot({ path: join(SHOTS, '12-patient-name-from-clinic-edge.png'), fullPage: true });
      assert.deepEqual(errors, []);

      await a.stop();
      agents.splice(agents.indexOf(a), 1);
      const failed = page.waitForEvent('requestfailed', (r) => r.url().startsWith(urlA));
      await page.reload();
      await page.getByRole('heading', { name: /^Patient / }).waitFor();
      await failed;
      await page.getByText(`Pseudonym ${keyA}`).waitFor();
      assert.equal(await page.locator('.real-name').count(), 0, 'the pseudonym only, when the edge cannot be reached');
    } finally {
      await browser.close();
    }

    // The index on disk is sealed: neither the name nor the patient id appears in it.
    const { existsSync } = await import('node:fs');
    const files = ['reid.sqlite', 'reid.sqlite-wal'].map((f) => join(dir.path, 'mg-a', f)).filter((f) => existsSync(f));
    const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
    assert.ok(bytes.includes(Buffer.from(keyA)), 'the index holds the pseudonym (a real check on the file)');
    assert.ok(!bytes.includes(Buffer.from(pa.patientId)) && !bytes.includes(Buffer.from(name.split('^')[0] as string)));
  } finally {
    for (const agent of agents) await agent.stop();
    await hub.stop();
    dir.remove();
  }
});
