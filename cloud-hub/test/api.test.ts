import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { topicFor } from '@vigil/shared';
import { ApiClient, login } from '../../scripts/harness/api-client.js';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { type Permission, ROLE_PERMISSIONS } from '../src/auth/access-policy.js';
import { currentTotp } from '../src/auth/totp.js';
import { provisionUser } from '../src/auth/user-provisioning.js';
import type { Role } from '../src/auth/user-store.js';

const ROLES: Role[] = ['clinician', 'ops', 'admin'];
interface Page<T = Record<string, unknown>> {
  items: T[];
  next: string | null;
}

describe('hub API', () => {
  let h: TestHub;
  const creds: Record<string, { password: string; totpSecret: string | null; recoveryCodes: string[] }> = {};
  const sessions = {} as Record<Role, ApiClient>;
  const tokens = {} as Record<Role, ApiClient>;
  let growthAlertKey = '';
  const alice = patientKeyOf('alice');
  const bob = patientKeyOf('bob');

  async function ingest(result: ReturnType<typeof studyResult>): Promise<void> {
    const topic = topicFor({ clinicId: result.clinicId, deviceId: result.deviceId }, 'results');
    assert.equal(await h.hub.ingest.submit(topic, Buffer.from(JSON.stringify(result)), result.deviceId), 'stored');
  }

  before(async () => {
    h = await startTestHub({ auth: { loginRateLimitPerMinute: 1000 } });
    for (const role of ROLES) {
      const user = await provisionUser(h.hub.auth, h.hub.state.audit, {
        username: `${role}1`,
        role,
        enrolTotp: true,
        actor: 'test',
      });
      creds[`${role}1`] = user;
    }
    for (const name of ['locked1', 'recovery1']) {
      creds[name] = await provisionUser(h.hub.auth, h.hub.state.audit, {
        username: name,
        role: 'clinician',
        enrolTotp: true,
        actor: 'test',
      });
    }
    creds.nomfa = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'nomfa',
      role: 'admin',
      enrolTotp: false,
      actor: 'test',
    });
    creds.newbie = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'newbie',
      role: 'clinician',
      enrolTotp: false,
      actor: 'test',
    });

    const base = { clinicId: 'clinic-a', deviceId: 'edge-a1' } as const;
    await ingest(
      studyResult({
        ...base,
        patient: 'alice',
        studyDate: '2022-01-10',
        laterality: 'L',
        view: 'CC',
        score: 0.7,
        findings: [{ x: 0.42, y: 0.31, diameterMm: 6.1, score: 0.7 }],
      }),
    );
    await ingest(
      studyResult({
        ...base,
        patient: 'alice',
        studyDate: '2022-07-06',
        laterality: 'L',
        view: 'CC',
        score: 0.75,
        findings: [{ x: 0.43, y: 0.3, diameterMm: 9.4, score: 0.75 }],
      }),
    );
    await ingest(
      studyResult({ ...base, patient: 'alice', studyDate: '2022-07-06', laterality: 'R', view: 'CC', score: 0.1, findings: [] }),
    );
    await ingest(
      studyResult({
        ...base,
        deviceId: 'edge-b1',
        clinicId: 'clinic-b',
        patient: 'bob',
        studyDate: '2020-01-01',
        laterality: 'L',
        view: 'MLO',
        score: 0.5,
        findings: [{ x: 0.5, y: 0.5, diameterMm: 5, score: 0.5 }],
      }),
    );
    await ingest(
      studyResult({
        ...base,
        patient: 'carol',
        studyDate: '2022-01-10',
        laterality: 'L',
        view: 'CC',
        score: 0.99,
        findings: [],
        shadow: true,
      }),
    );
    await h.hub.ingest.close();
    await h.hub.followup.settled();

    for (const role of ROLES) {
      const c = creds[`${role}1`];
      assert.ok(c);
      const { client, response } = await login(h.httpUrl, `${role}1`, c.password, c.totpSecret);
      assert.equal(response.status, 200, JSON.stringify(response.body));
      sessions[role] = client;
      const created = await client.post<{ token: string }>('/api/v1/tokens', { name: `${role} automation` });
      assert.equal(created.status, 201);
      tokens[role] = new ApiClient(h.httpUrl, { bearer: created.body.token });
    }
  });

  after(async () => {
    await h?.stop();
  });

  it('builds timelines and alerts from ingested results, and never shows shadow results', async () => {
    const timeline = await tokens.clinician.get<{
      series: { laterality: string; view: string; tracks: { points: { diameterMm: number }[] }[] }[];
      alerts: { kind: string; reason: string; alertKey: string }[];
      due: { dueDate: string; categoryLabel: string };
    }>(`/api/v1/patients/${alice}/timeline`);
    assert.equal(timeline.status, 200);
    const lcc = timeline.body.series.find((s) => s.laterality === 'L' && s.view === 'CC');
    assert.deepEqual(
      lcc?.tracks[0]?.points.map((p) => p.diameterMm),
      [6.1, 9.4],
    );
    const growth = timeline.body.alerts.find((a) => a.kind === 'growth');
    assert.ok(growth, 'growth alert raised');
    assert.match(growth.reason, /^Left CC: finding at \(0\.43, 0\.30\) grew 6\.1 → 9\.4 mm/);
    growthAlertKey = growth.alertKey;
    assert.equal(timeline.body.due.dueDate, '2022-08-06');
    assert.match(timeline.body.due.categoryLabel, /^model-derived category 4/);

    const overdue = await tokens.clinician.get<Page<{ patientKey: string; reason: string }>>('/api/v1/alerts?kind=overdue');
    assert.ok(overdue.body.items.some((a) => a.patientKey === bob && /2020-01-01/.test(a.reason)));

    // The inbox (warning, critical) and the "to review" list (info) are listed apart.
    const level = async (l: string) =>
      (await tokens.clinician.get<Page<{ alertKey: string; severity: string }>>(`/api/v1/alerts?level=${l}&limit=100`)).body
        .items;
    const [inbox, review, all] = [
      await level('inbox'),
      await level('review'),
      await tokens.clinician.get<Page<{ alertKey: string }>>('/api/v1/alerts?limit=100'),
    ];
    assert.ok(inbox.some((a) => a.alertKey === growthAlertKey));
    assert.ok(inbox.every((a) => a.severity !== 'info'));
    assert.ok(review.every((a) => a.severity === 'info'));
    assert.equal(inbox.length + review.length, all.body.items.length);
    assert.equal((await tokens.clinician.get('/api/v1/alerts?level=everything')).status, 400);

    const results = await tokens.clinician.get<Page<{ patientKey: string; shadow?: boolean }>>('/api/v1/results?limit=100');
    assert.equal(results.body.items.length, 4);
    assert.ok(results.body.items.every((r) => !r.shadow));
    assert.equal((await tokens.clinician.get(`/api/v1/patients/${patientKeyOf('carol')}/timeline`)).status, 404);
  });

  it('pages results with an opaque cursor and filters them', async () => {
    const first = await tokens.clinician.get<Page<{ messageId: string }>>('/api/v1/results?limit=3');
    assert.equal(first.body.items.length, 3);
    assert.ok(first.body.next);
    const second = await tokens.clinician.get<Page<{ messageId: string }>>(`/api/v1/results?limit=3&cursor=${first.body.next}`);
    assert.equal(second.body.items.length, 1);
    assert.equal(second.body.next, null);
    const ids = new Set([...first.body.items, ...second.body.items].map((r) => r.messageId));
    assert.equal(ids.size, 4);
    const clinicB = await tokens.clinician.get<Page<{ clinicId: string }>>('/api/v1/results?clinicId=clinic-b');
    assert.deepEqual(
      clinicB.body.items.map((r) => r.clinicId),
      ['clinic-b'],
    );
    const high = await tokens.clinician.get<Page<{ score: number }>>('/api/v1/results?minScore=0.6');
    assert.ok(high.body.items.length === 2 && high.body.items.every((r) => r.score >= 0.6));
    const bad = await tokens.clinician.get<{ error: { code: string } }>('/api/v1/results?cursor=bm9wZQ');
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'VIGIL_API_INVALID_REQUEST');
    const invalid = await tokens.clinician.get<{ error: { code: string; message: string } }>('/api/v1/results?limit=0');
    assert.equal(invalid.status, 400);
    assert.match(invalid.body.error.message, /limit/);
  });

  it('moves an alert open → acknowledged → resolved with who and when, refusing other transitions', async () => {
    const noCsrf = await sessions.clinician.post(`/api/v1/alerts/${growthAlertKey}/acknowledge`, {}, { csrf: false });
    assert.equal(noCsrf.status, 403);
    assert.equal((noCsrf.body as { error: { code: string } }).error.code, 'VIGIL_AUTH_CSRF');
    const ack = await sessions.clinician.post<{ status: string; acknowledgedBy: string; acknowledgedAt: string }>(
      `/api/v1/alerts/${growthAlertKey}/acknowledge`,
      { note: 'recall booked' },
    );
    assert.equal(ack.status, 200);
    assert.equal(ack.body.status, 'acknowledged');
    assert.equal(ack.body.acknowledgedBy, 'clinician1');
    assert.ok(Date.parse(ack.body.acknowledgedAt) > Date.now() - 60_000);
    const again = await sessions.clinician.post<{ error: { code: string } }>(`/api/v1/alerts/${growthAlertKey}/acknowledge`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'VIGIL_ALERT_TRANSITION');
    const resolved = await sessions.clinician.post<{ status: string; resolvedBy: string }>(
      `/api/v1/alerts/${growthAlertKey}/resolve`,
    );
    assert.equal(resolved.body.status, 'resolved');
    assert.equal(resolved.body.resolvedBy, 'clinician1');
    assert.equal((await sessions.clinician.post(`/api/v1/alerts/${growthAlertKey}/resolve`)).status, 409);
    assert.equal((await sessions.clinician.post('/api/v1/alerts/growth:nope/resolve')).status, 404);
  });

  it('audits every read of patient data and every change, in a hash chain that detects tampering', async () => {
    const reads = await tokens.admin.get<Page<{ action: string; actor: string; patientKey: string | null }>>(
      `/api/v1/audit?patientKey=${alice}&limit=100`,
    );
    const actions = reads.body.items.map((e) => `${e.actor} ${e.action}`);
    assert.ok(actions.includes('clinician1 patient.timeline.read'));
    assert.ok(actions.includes('clinician1 alert.acknowledge'));
    assert.ok(actions.includes('clinician1 alert.resolve'));
    const logins = await tokens.admin.get<Page<{ outcome: string }>>('/api/v1/audit?action=auth.login&limit=100');
    assert.ok(logins.body.items.length >= 3);
    const verified = await tokens.admin.get<{ ok: boolean; entries: number }>('/api/v1/audit/verify');
    assert.equal(verified.body.ok, true);
    assert.ok(verified.body.entries > 10);

    // The database refuses to rewrite the log…
    await assert.rejects(h.sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3"), /append-only/);
    // …and someone who drops the guard to do it anyway is caught by the chain.
    await h.sql(h.engine === 'postgres' ? 'ALTER TABLE audit_log DISABLE TRIGGER USER' : 'DROP TRIGGER audit_log_no_update');
    await h.sql("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    const broken = await tokens.admin.get<{ ok: boolean; firstBadSeq: number }>('/api/v1/audit/verify');
    assert.equal(broken.body.ok, false);
    assert.equal(broken.body.firstBadSeq, 3);
  });

  it('refuses wrong passwords and codes alike, replayed codes, and locks after repeated failures', async () => {
    const c = creds.locked1;
    assert.ok(c?.totpSecret);
    const wrongPassword = await login(h.httpUrl, 'locked1', 'not-the-password', c.totpSecret);
    assert.equal(wrongPassword.response.status, 401);
    assert.equal((wrongPassword.response.body as { error: { code: string } }).error.code, 'VIGIL_AUTH_FAILED');
    const noTotp = await login(h.httpUrl, 'locked1', c.password, null);
    assert.equal(noTotp.response.status, 401);
    const unknown = await login(h.httpUrl, 'nobody', 'whatever-password', null);
    assert.equal(unknown.response.status, 401);
    // One code, sent twice: computed once, so a 30 s step boundary passing between the two logins on a
    // slow machine cannot turn the replay into a fresh code.
    const code = await currentTotp(c.totpSecret);
    const send = () =>
      new ApiClient(h.httpUrl).post('/api/v1/auth/login', { username: 'locked1', password: c.password, totp: code });
    assert.equal((await send()).status, 200);
    const replay = await send();
    assert.equal(replay.status, 401, 'the same code cannot log in twice');
    for (let i = 0; i < 5; i++) await login(h.httpUrl, 'locked1', 'wrong-password-again', c.totpSecret);
    const locked = await login(h.httpUrl, 'locked1', c.password, c.totpSecret, 1);
    assert.equal(locked.response.status, 423);
    assert.equal((locked.response.body as { error: { code: string } }).error.code, 'VIGIL_AUTH_LOCKED');
    const unlock = await tokens.admin.post<{ locked: boolean }>('/api/v1/users/locked1/unlock');
    assert.equal(unlock.body.locked, false);
    assert.equal((await login(h.httpUrl, 'locked1', c.password, c.totpSecret, 1)).response.status, 200);
  });

  it('accepts each recovery code once', async () => {
    const c = creds.recovery1;
    const code = c?.recoveryCodes[0];
    assert.ok(c && code);
    const api = new ApiClient(h.httpUrl);
    assert.equal(
      (await api.post('/api/v1/auth/login', { username: 'recovery1', password: c.password, recoveryCode: code })).status,
      200,
    );
    assert.equal(
      (await api.post('/api/v1/auth/login', { username: 'recovery1', password: c.password, recoveryCode: code })).status,
      401,
    );
  });

  it('makes a new user enrol TOTP (QR code, confirmation, recovery codes) before any data', async () => {
    const c = creds.newbie;
    assert.ok(c);
    const { client, response } = await login(h.httpUrl, 'newbie', c.password, null);
    assert.equal(response.status, 200);
    assert.equal((response.body as { mfaEnrolmentRequired: boolean }).mfaEnrolmentRequired, true);
    const refused = await client.get<{ error: { code: string } }>('/api/v1/patients');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'VIGIL_AUTH_MFA_REQUIRED');
    assert.equal((await client.post('/api/v1/tokens', { name: 'sneaky' })).status, 403);
    const enrolment = await client.post<{ secret: string; otpauthUri: string; qrSvg: string }>('/api/v1/auth/totp/enrolment');
    assert.equal(enrolment.status, 200);
    assert.match(enrolment.body.otpauthUri, /^otpauth:\/\/totp\/Vigil:newbie\?secret=/);
    assert.match(enrolment.body.qrSvg, /^<svg/);
    const wrong = await client.post('/api/v1/auth/totp/confirm', { totp: '000000' });
    assert.equal(wrong.status, 401);
    const confirmed = await client.post<{ recoveryCodes: string[] }>('/api/v1/auth/totp/confirm', {
      totp: await currentTotp(enrolment.body.secret),
    });
    assert.equal(confirmed.status, 200);
    assert.equal(confirmed.body.recoveryCodes.length, 10);
    assert.equal((await client.get('/api/v1/patients')).status, 200);
    // A password-only login is no longer enough.
    assert.equal((await login(h.httpUrl, 'newbie', c.password, null)).response.status, 401);
  });

  it('enforces every role on every route, and refuses anonymous callers', async () => {
    const spec = await new ApiClient(h.httpUrl).get<{ paths: Record<string, Record<string, unknown>> }>('/docs/json');
    const documented = Object.entries(spec.body.paths)
      .filter(([path]) => path.startsWith('/api/v1/'))
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`))
      .sort();
    let userSeq = 0;
    const routes: {
      route: string;
      permission: Permission | 'authenticated' | 'public' | 'enrolment';
      url?: () => string;
      body?: () => unknown;
    }[] = [
      { route: 'POST /api/v1/auth/login', permission: 'public' },
      { route: 'GET /api/v1/auth/me', permission: 'enrolment' },
      { route: 'POST /api/v1/auth/logout', permission: 'enrolment' },
      { route: 'POST /api/v1/auth/totp/enrolment', permission: 'enrolment' },
      { route: 'POST /api/v1/auth/totp/confirm', permission: 'enrolment' },
      { route: 'GET /api/v1/tokens', permission: 'authenticated' },
      { route: 'POST /api/v1/tokens', permission: 'authenticated' },
      { route: 'DELETE /api/v1/tokens/{tokenId}', permission: 'authenticated' },
      { route: 'GET /api/v1/patients', permission: 'patients:read' },
      {
        route: 'GET /api/v1/patients/{patientKey}/timeline',
        permission: 'patients:read',
        url: () => `/api/v1/patients/${alice}/timeline`,
      },
      { route: 'GET /api/v1/alerts', permission: 'alerts:read' },
      {
        route: 'POST /api/v1/alerts/{alertKey}/acknowledge',
        permission: 'alerts:write',
        url: () => `/api/v1/alerts/${growthAlertKey}/acknowledge`,
      },
      {
        route: 'POST /api/v1/alerts/{alertKey}/resolve',
        permission: 'alerts:write',
        url: () => `/api/v1/alerts/${growthAlertKey}/resolve`,
      },
      { route: 'GET /api/v1/results', permission: 'results:read' },
      { route: 'GET /api/v1/results/{resultId}', permission: 'results:read', url: () => '/api/v1/results/unknown' },
      { route: 'GET /api/v1/devices', permission: 'devices:read' },
      { route: 'GET /api/v1/devices/{deviceId}', permission: 'devices:read', url: () => '/api/v1/devices/edge-a1' },
      { route: 'GET /api/v1/telemetry', permission: 'telemetry:read', url: () => '/api/v1/telemetry?deviceId=edge-a1' },
      { route: 'GET /api/v1/models', permission: 'models:read' },
      { route: 'GET /api/v1/packages/{name}/{version}', permission: 'public' },
      { route: 'GET /api/v1/device/labels', permission: 'public' },
      { route: 'POST /api/v1/device/reidentifications', permission: 'public' },
      { route: 'GET /api/v1/device/ca', permission: 'public' },
      { route: 'POST /api/v1/device/enrol', permission: 'public' },
      { route: 'POST /api/v1/device/certificate', permission: 'public' },
      { route: 'POST /api/v1/reid/token', permission: 'patients:read' },
      { route: 'GET /api/v1/rollouts', permission: 'rollouts:read' },
      { route: 'GET /api/v1/rollouts/{rolloutId}', permission: 'rollouts:read', url: () => '/api/v1/rollouts/ro-none' },
      {
        route: 'POST /api/v1/rollouts',
        permission: 'rollouts:write',
        body: () => ({ model: { name: 'vigil-demo', version: '9.9.9' } }),
      },
      {
        route: 'POST /api/v1/rollouts/{rolloutId}/pause',
        permission: 'rollouts:write',
        url: () => '/api/v1/rollouts/ro-none/pause',
      },
      {
        route: 'POST /api/v1/rollouts/{rolloutId}/resume',
        permission: 'rollouts:write',
        url: () => '/api/v1/rollouts/ro-none/resume',
      },
      {
        route: 'POST /api/v1/rollouts/{rolloutId}/abort',
        permission: 'rollouts:write',
        url: () => '/api/v1/rollouts/ro-none/abort',
      },
      {
        route: 'POST /api/v1/rollouts/{rolloutId}/rollback',
        permission: 'rollouts:write',
        url: () => '/api/v1/rollouts/ro-none/rollback',
      },
      { route: 'GET /api/v1/users', permission: 'users:read' },
      {
        route: 'POST /api/v1/users',
        permission: 'users:write',
        body: () => ({ username: `made${userSeq++}`, role: 'clinician', password: 'a-long-enough-password' }),
      },
      { route: 'POST /api/v1/users/{username}/disable', permission: 'users:write', url: () => '/api/v1/users/made0/disable' },
      { route: 'POST /api/v1/users/{username}/enable', permission: 'users:write', url: () => '/api/v1/users/made0/enable' },
      { route: 'POST /api/v1/users/{username}/reset-mfa', permission: 'users:write', url: () => '/api/v1/users/made0/reset-mfa' },
      { route: 'POST /api/v1/users/{username}/unlock', permission: 'users:write', url: () => '/api/v1/users/made0/unlock' },
      { route: 'GET /api/v1/audit', permission: 'audit:read' },
      { route: 'GET /api/v1/audit/verify', permission: 'audit:read' },
      { route: 'GET /api/v1/events', permission: 'events:read' },
      {
        route: 'PUT /api/v1/users/{username}/clinics',
        permission: 'users:write',
        url: () => '/api/v1/users/made0/clinics',
        body: () => ({ clinics: ['clinic-a'] }),
      },
      { route: 'GET /api/v1/verdicts', permission: 'verdicts:read', url: () => `/api/v1/verdicts?patientKey=${alice}` },
      {
        route: 'POST /api/v1/verdicts',
        permission: 'verdicts:write',
        body: () => ({ kind: 'assessment', patientKey: alice, studyKey: 'f'.repeat(32), birads: 2 }),
      },
      {
        route: 'GET /api/v1/verdicts/history',
        permission: 'verdicts:read',
        url: () => `/api/v1/verdicts/history?subject=assessment:${'f'.repeat(32)}`,
      },
      { route: 'POST /api/v1/outcomes/import', permission: 'verdicts:write' },
      { route: 'GET /api/v1/performance', permission: 'performance:read' },
      { route: 'GET /api/v1/performance.csv', permission: 'performance:read' },
      { route: 'GET /api/v1/ops-alerts', permission: 'performance:read' },
      {
        route: 'POST /api/v1/ops-alerts/{alertKey}/acknowledge',
        permission: 'ops-alerts:write',
        url: () => '/api/v1/ops-alerts/none/acknowledge',
      },
    ];
    assert.deepEqual(routes.map((r) => r.route).sort(), documented, 'every documented route is in the access table');

    async function call(client: ApiClient, r: (typeof routes)[number]): Promise<{ status: number; code?: string }> {
      const [method, path] = r.route.split(' ') as [string, string];
      const url = r.url?.() ?? path.replace('{tokenId}', 'none');
      if (r.route === 'GET /api/v1/events') {
        const abort = new AbortController();
        const headers: Record<string, string> = {};
        if (client.auth.bearer) headers.authorization = `Bearer ${client.auth.bearer}`;
        if (client.auth.cookie) headers.cookie = client.auth.cookie;
        const response = await fetch(`${h.httpUrl}${url}`, { headers, signal: abort.signal });
        const body = response.status === 200 ? undefined : ((await response.json()) as { error: { code: string } });
        abort.abort();
        return { status: response.status, ...(body ? { code: body.error.code } : {}) };
      }
      const response = await client.request<{ error?: { code: string } }>(
        method,
        url,
        method === 'GET' ? undefined : (r.body?.() ?? {}),
      );
      return { status: response.status, ...(response.body?.error ? { code: response.body.error.code } : {}) };
    }

    for (const r of routes) {
      if (r.permission === 'public') continue;
      const anonymous = await call(new ApiClient(h.httpUrl), r);
      assert.equal(anonymous.status, 401, `${r.route} without credentials`);
      assert.equal(anonymous.code, 'VIGIL_AUTH_REQUIRED');
      if (r.permission === 'enrolment' || r.permission === 'authenticated') continue;
      for (const role of ROLES) {
        const outcome = await call(tokens[role], r);
        if (ROLE_PERMISSIONS[role].has(r.permission)) {
          assert.ok(![401, 403].includes(outcome.status), `${role} may ${r.route} (got ${outcome.status} ${outcome.code})`);
        } else {
          assert.equal(outcome.status, 403, `${role} may not ${r.route}`);
          assert.equal(outcome.code, 'VIGIL_AUTH_FORBIDDEN');
        }
      }
    }
    // A password without the second factor opens nothing but enrolment, even for an admin.
    const nomfa = creds.nomfa;
    assert.ok(nomfa);
    const { client: halfway } = await login(h.httpUrl, 'nomfa', nomfa.password, null);
    for (const r of routes) {
      if (r.permission === 'public' || r.permission === 'enrolment') continue;
      const outcome = await call(halfway, r);
      assert.equal(outcome.status, 403, `${r.route} without MFA`);
      assert.equal(outcome.code, 'VIGIL_AUTH_MFA_REQUIRED', r.route);
    }
    const denied = await tokens.admin.get<Page>('/api/v1/audit?action=access.denied&limit=500');
    assert.ok(denied.body.items.length >= 10, 'refusals are audited');
  });

  it('streams live alert events to the dashboard', async () => {
    const abort = new AbortController();
    const response = await fetch(`${h.httpUrl}/api/v1/events`, {
      headers: { authorization: `Bearer ${tokens.clinician.auth.bearer}` },
      signal: abort.signal,
    });
    assert.equal(response.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const reader = response.body?.getReader();
    assert.ok(reader);
    const overdue = await tokens.clinician.get<Page<{ alertKey: string }>>('/api/v1/alerts?kind=overdue&status=open');
    const key = overdue.body.items[0]?.alertKey;
    assert.ok(key);
    await sessions.clinician.post(`/api/v1/alerts/${key}/acknowledge`);
    let text = '';
    while (!text.includes('event: alert')) {
      const { value, done } = await reader.read();
      if (done) break;
      text += Buffer.from(value).toString('utf8');
    }
    abort.abort();
    assert.match(text, /event: alert\ndata: \{"type":"alert","alert":\{"alertKey":"overdue:/);
    assert.match(text, /"status":"acknowledged"/);
  });

  it('serves model packages only to registered devices', async () => {
    const anonymous = await fetch(`${h.httpUrl}/api/v1/packages/vigil-demo/0.2.0`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /Basic/);
    const password = await h.addDevice('clinic-a', 'edge-dl');
    const auth = `Basic ${Buffer.from(`edge-dl:${password}`).toString('base64')}`;
    const wrong = await fetch(`${h.httpUrl}/api/v1/packages/vigil-demo/0.2.0`, {
      headers: { authorization: `Basic ${Buffer.from('edge-dl:nope').toString('base64')}` },
    });
    assert.equal(wrong.status, 401);
    const unknown = await fetch(`${h.httpUrl}/api/v1/packages/vigil-demo/0.2.0`, { headers: { authorization: auth } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { error: { code: string } }).error.code, 'VIGIL_MODEL_UNKNOWN');
  });

  it('sends security headers, serves OpenAPI at /docs, and answers unknown API routes with a JSON error', async () => {
    const r = await fetch(`${h.httpUrl}/api/v1/auth/me`);
    assert.match(r.headers.get('content-security-policy') ?? '', /default-src 'self'/);
    assert.equal(r.headers.get('x-content-type-options'), 'nosniff');
    assert.ok(r.headers.get('x-ratelimit-limit'));
    const docs = await fetch(`${h.httpUrl}/docs/json`);
    const spec = (await docs.json()) as { openapi: string; paths: Record<string, unknown> };
    assert.match(spec.openapi, /^3\./);
    assert.ok(spec.paths['/api/v1/patients/{patientKey}/timeline']);
    const missing = await tokens.admin.get<{ error: { code: string } }>('/api/v1/nothing-here');
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.code, 'VIGIL_API_NOT_FOUND');
  });

  it('ends a session at logout', async () => {
    const c = creds.admin1;
    assert.ok(c);
    const { client } = await login(h.httpUrl, 'admin1', c.password, c.totpSecret, 1);
    assert.equal((await client.get('/api/v1/auth/me')).status, 200);
    assert.equal((await client.post('/api/v1/auth/logout')).status, 204);
    assert.equal((await client.get('/api/v1/auth/me')).status, 401);
  });
});
