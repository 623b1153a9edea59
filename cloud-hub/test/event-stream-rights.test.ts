// Second outside review, item 4: a live event stream lives no longer than the rights it was opened
// with. Three users each hold an open stream on a real hub while events keep coming; one logs out,
// one is disabled by an admin, one has her clinics narrowed. Each stream is ended by the hub (an
// `end` event, then the connection closes) within a few re-check periods, and delivers nothing after.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { type ApiClient, login } from '../../scripts/harness/api-client.js';
import { openEventStream } from '../../scripts/harness/event-stream.js';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { STREAM_RECHECK_MS } from '../src/api/event-routes.js';
import { provisionUser } from '../src/auth/user-provisioning.js';

interface Stream {
  events: { type: string; at: number }[];
  closedAt: number | undefined;
}

async function openStream(client: ApiClient): Promise<Stream> {
  const stream: Stream = { events: [], closedAt: undefined };
  const opened = await openEventStream(`${client.baseUrl}/api/v1/events`, { cookie: client.auth.cookie ?? '' }, (raw) => {
    const type = /^event: (\S+)/m.exec(raw)?.[1];
    if (type) stream.events.push({ type, at: Date.now() });
  });
  assert.equal(opened.status, 200);
  void opened.done.then(() => {
    stream.closedAt = Date.now();
  });
  return stream;
}

test('a live stream ends on logout, on disable and when the user’s clinics change, and delivers nothing after', async () => {
  const h = await startTestHub({ auth: { loginRateLimitPerMinute: 1000 } });
  const ticker = setInterval(() => h.hub.events.emit({ type: 'results', count: 1, clinicIds: ['clinic-a'] }), 100);
  try {
    const users: Record<string, ApiClient> = {};
    for (const name of ['out', 'off', 'moved', 'admin']) {
      const u = await provisionUser(h.hub.auth, h.hub.state.audit, {
        username: name,
        role: name === 'admin' ? 'admin' : 'clinician',
        enrolTotp: true,
        actor: 'test',
        ...(name === 'moved' ? { clinics: ['clinic-a', 'clinic-b'] } : {}),
      });
      users[name] = (await login(h.httpUrl, name, u.password, u.totpSecret)).client;
    }
    const streams = {
      out: await openStream(users.out as ApiClient),
      off: await openStream(users.off as ApiClient),
      moved: await openStream(users.moved as ApiClient),
      admin: await openStream(users.admin as ApiClient),
    };
    await waitFor('events flowing to every stream', () =>
      Object.values(streams).every((s) => s.events.some((e) => e.type === 'results')),
    );

    const changedAt = Date.now();
    assert.equal((await (users.out as ApiClient).post('/api/v1/auth/logout')).status, 204);
    assert.equal((await (users.admin as ApiClient).post('/api/v1/users/off/disable')).status, 200);
    const narrowed = await (users.admin as ApiClient).request('PUT', '/api/v1/users/moved/clinics', { clinics: ['clinic-b'] });
    assert.equal(narrowed.status, 200);

    for (const name of ['out', 'off', 'moved'] as const) {
      const s = streams[name];
      await waitFor(`${name}'s stream ended`, () => s.closedAt !== undefined, 30_000);
      assert.ok(
        s.events.some((e) => e.type === 'end'),
        `${name}: the hub said why it ended`,
      );
      const endAt = s.events.find((e) => e.type === 'end')?.at as number;
      assert.ok(!s.events.some((e) => e.type !== 'end' && e.at > endAt), `${name}: nothing after the end`);
      // Ended within a few re-check periods of the change (generous for a loaded machine).
      assert.ok(endAt - changedAt < 10 * STREAM_RECHECK_MS, `${name} ended ${endAt - changedAt} ms after the change`);
    }
    // The admin's own stream, whose rights did not change, goes on.
    const before = streams.admin.events.length;
    await waitFor('the admin stream still delivers', () => streams.admin.events.length > before + 3);
    assert.equal(streams.admin.closedAt, undefined);
  } finally {
    clearInterval(ticker);
    await h.stop();
  }
});
