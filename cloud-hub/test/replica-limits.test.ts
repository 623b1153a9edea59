// Rate limits and failed-login lockouts with hub replicas (issue 13): two hubs on one PostgreSQL
// database count a client's requests and an address's failures together, so a client spreading its
// attempts over the replicas behind a load balancer gets no more than one hub would give it.
process.env.VIGIL_TEST_STATE = 'postgres';

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { provisionUser } from '@vigil/cloud-hub';
import { ApiClient } from '../../scripts/harness/api-client.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';

describe('two replicas share rate limits and lockouts', () => {
  const replicas: TestHub[] = [];
  let ann: { password: string };

  before(async () => {
    const settings = { http: { port: 0, rateLimitPerMinute: 12 }, auth: { lockoutThreshold: 3, loginRateLimitPerMinute: 100 } };
    const first = await startTestHub(settings);
    replicas.push(first, await startTestHub({ ...settings, state: first.state }));
    ann = await provisionUser(first.hub.auth, first.hub.state.audit, {
      username: 'ann1',
      role: 'clinician',
      enrolTotp: false,
      actor: 'test',
    });
  });

  after(async () => {
    for (const r of replicas) await r.stop();
  });

  it('requests alternating between replicas are counted once: the 13th in the minute is refused by either', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 14; i++) {
      const api = new ApiClient((replicas[i % 2] as TestHub).httpUrl);
      statuses.push((await api.get('/api/v1/devices')).status);
    }
    assert.deepEqual(statuses.slice(0, 12), Array(12).fill(401), `statuses: ${statuses.join(',')}`);
    assert.deepEqual(statuses.slice(12), [429, 429], 'both replicas refuse once the shared count is spent');
  });

  it("failed logins on both replicas add up: the address is locked out of the account on either, and an admin's unlock lifts it on both", async () => {
    const attempt = (replica: number, password: string) =>
      new ApiClient((replicas[replica] as TestHub).httpUrl).post('/api/v1/auth/login', { username: 'ann1', password });
    const codes: string[] = [];
    for (let i = 0; i < 3; i++) {
      const r = await attempt(i % 2, 'wrong-password-1');
      codes.push((r.body as { error: { code: string } }).error.code);
    }
    assert.deepEqual(codes, ['VIGIL_AUTH_FAILED', 'VIGIL_AUTH_FAILED', 'VIGIL_AUTH_FAILED']);
    for (const replica of [0, 1]) {
      const right = await attempt(replica, ann.password);
      assert.equal(right.status, 423, `replica ${replica}: locked out even with the right password`);
    }
    await (replicas[0] as TestHub).hub.auth.clearLockouts('ann1');
    const after = await attempt(1, ann.password);
    assert.equal(after.status, 200, 'unlocked on the other replica too');
  });
});
