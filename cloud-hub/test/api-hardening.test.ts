// Review findings 6 and 9 against a real hub over HTTP: rate limits keyed by address or user (never
// by a client-chosen cookie), lockouts that reveal nothing and cannot be used to lock a user out from
// elsewhere, the last admin, coded errors for forged cursors, no-store caching, no source map, SSE caps.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { provisionUser } from '@vigil/cloud-hub';
import { type ApiClient, login } from '../../scripts/harness/api-client.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { MAX_STREAMS_PER_USER } from '../src/api/event-routes.js';

/** A login attempt from a chosen loopback source address (127.0.0.x are all this machine). */
function loginFrom(baseUrl: string, localAddress: string, body: object, cookie?: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const url = new URL('/api/v1/auth/login', baseUrl);
    const payload = JSON.stringify(body);
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: 'POST',
        localAddress,
        headers: { 'content-type': 'application/json', ...(cookie ? { cookie } : {}) },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

describe('API hardening (review findings 6 and 9)', () => {
  let h: TestHub;
  let admin: { password: string; totpSecret: string | null };
  let victim: { password: string; totpSecret: string | null };
  let client: ApiClient;

  before(async () => {
    h = await startTestHub({ auth: { loginRateLimitPerMinute: 10, lockoutThreshold: 5 } });
    admin = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'root1',
      role: 'admin',
      enrolTotp: true,
      actor: 'test',
    });
    victim = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'victim1',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
    });
    ({ client } = await login(h.httpUrl, 'root1', admin.password, admin.totpSecret));
  });

  after(async () => {
    await h.stop();
  });

  it('a made-up session cookie per request does not escape the login limit (429 after 10 per address)', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      statuses.push(
        await loginFrom(
          h.httpUrl,
          '127.0.0.20',
          { username: `nobody${i}`, password: 'x'.repeat(12) },
          `vigil_session=${randomBytes(24).toString('base64url')}`,
        ),
      );
    }
    assert.equal(statuses.filter((s) => s === 429).length, 4, `statuses: ${statuses.join(',')}`);
    assert.ok(statuses.slice(0, 10).every((s) => s === 401));
  });

  it('lockout answers the same for unknown and existing users, and is per address', async () => {
    const wrong = (username: string, from: string) => loginFrom(h.httpUrl, from, { username, password: 'wrong-password-123' });
    // Five wrong attempts from one address lock that address out of the account: 423 at the sixth,
    // for an existing user and for a name that does not exist alike.
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 6; i++) known.push(await wrong('victim1', '127.0.0.21'));
    for (let i = 0; i < 6; i++) unknown.push(await wrong('ghost-user', '127.0.0.22'));
    assert.deepEqual(known, [401, 401, 401, 401, 401, 423]);
    assert.deepEqual(unknown, known, 'an unknown username cannot be told apart by its lockout');
    // The real user, elsewhere, still logs in: an attacker cannot lock a known account for everyone.
    const { response } = await login(h.httpUrl, 'victim1', victim.password, victim.totpSecret);
    assert.equal(response.status, 200, JSON.stringify(response.body));
  });

  it('second review: a disabled account answers login as slowly as an unknown one (its state does not leak through timing)', async () => {
    const gone = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'gone1',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
    });
    assert.equal((await client.post('/api/v1/users/gone1/disable')).status, 200);
    const timed = async (username: string, password: string, from: string) => {
      const started = performance.now();
      const status = await loginFrom(h.httpUrl, from, { username, password });
      return { status, ms: performance.now() - started };
    };
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const disabled: number[] = [];
    const unknown: number[] = [];
    // Interleaved, each from its own address (below the rate limit and the lockout).
    for (let i = 0; i < 4; i++) {
      const d = await timed('gone1', gone.password, `127.0.0.${40 + i}`);
      const u = await timed(`nobody-${i}`, gone.password, `127.0.0.${50 + i}`);
      assert.equal(d.status, 401);
      assert.equal(u.status, 401);
      disabled.push(d.ms);
      unknown.push(u.ms);
    }
    // Both pay one argon2id verification (hundreds of ms); before, a disabled account answered in 2–3 ms.
    assert.ok(
      median(disabled) > 0.4 * median(unknown),
      `disabled ${median(disabled).toFixed(0)} ms vs unknown ${median(unknown).toFixed(0)} ms`,
    );
  });

  it('the last admin cannot disable itself (the CLI user enable and unlock: cli.test.ts)', async () => {
    const refused = await client.post<{ error: { code: string } }>('/api/v1/users/root1/disable');
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'VIGIL_USER_LAST_ADMIN');
    assert.equal((await client.get('/api/v1/auth/me')).status, 200, 'still signed in');
  });

  it('a forged telemetry cursor or date is a coded 400, not a 500', async () => {
    const cursor = Buffer.from(JSON.stringify(['not-a-number'])).toString('base64url');
    for (const query of [`cursor=${cursor}`, `cursor=${Buffer.from('[1.5]').toString('base64url')}`, 'from=yesterday']) {
      const r = await client.get<{ error: { code: string } }>(
        `/api/v1/telemetry?deviceId=edge-x&measurement=device_telemetry&field=cpu_utilization_pct&${query}`,
      );
      assert.equal(r.status, 400, `${query}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, 'VIGIL_API_INVALID_REQUEST');
    }
  });

  it('API responses are not cacheable; the dashboard ships no source map', async () => {
    for (const path of ['/api/v1/patients', '/api/v1/alerts', '/api/v1/auth/me']) {
      assert.equal((await client.get(path)).headers.get('cache-control'), 'no-store', path);
    }
    const index = await (await fetch(`${h.httpUrl}/`)).text();
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(index)?.[1];
    assert.ok(script, 'the dashboard is served');
    assert.doesNotMatch(await (await fetch(`${h.httpUrl}${script}`)).text(), /sourceMappingURL/);
    assert.equal((await fetch(`${h.httpUrl}${script}.map`)).status, 404);
  });

  it(`one user holds at most ${MAX_STREAMS_PER_USER} live streams`, async () => {
    const controllers: AbortController[] = [];
    try {
      const statuses: number[] = [];
      for (let i = 0; i < MAX_STREAMS_PER_USER + 2; i++) {
        const controller = new AbortController();
        controllers.push(controller);
        const r = await fetch(`${h.httpUrl}/api/v1/events`, {
          headers: { cookie: client.auth.cookie ?? '' },
          signal: controller.signal,
        });
        statuses.push(r.status);
      }
      assert.deepEqual(statuses, [...Array(MAX_STREAMS_PER_USER).fill(200), 429, 429]);
    } finally {
      for (const c of controllers) c.abort();
    }
    // Closed streams free their slots.
    const freed = new AbortController();
    try {
      await waitFor('a stream slot freed', async () => {
        const r = await fetch(`${h.httpUrl}/api/v1/events`, {
          headers: { cookie: client.auth.cookie ?? '' },
          signal: freed.signal,
        });
        return r.status === 200;
      });
    } finally {
      freed.abort();
    }
  });
});
