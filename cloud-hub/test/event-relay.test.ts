// Live events across replicas (issue 13): two hubs on one PostgreSQL; what one ingests and alerts
// on reaches the other's live stream (LISTEN/NOTIFY), and neither hears its own event twice.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { topicFor } from '@vigil/shared';
import pg from 'pg';
import { studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { PostgresServer } from '../../scripts/harness/postgres.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import type { HubEvent } from '../src/events/hub-events.js';

/** Two hub replicas on one fresh PostgreSQL database, stopped (and the server with them) after `run`. */
async function withTwoReplicas(database: string, run: (a: TestHub, b: TestHub, url: string) => Promise<void>): Promise<void> {
  const server = new PostgresServer();
  await server.start();
  const url = server.createDatabase(database);
  const hubs: TestHub[] = [];
  try {
    for (const replicaId of ['replica-a', 'replica-b']) {
      hubs.push(await startTestHub({ state: { driver: 'postgres', url }, cluster: { replicaId } }));
    }
    await run(hubs[0] as TestHub, hubs[1] as TestHub, url);
  } finally {
    for (const h of hubs) await h.stop();
    await server.dispose();
  }
}

test('events raised on one replica reach the other replica’s live stream once', () =>
  withTwoReplicas('events', async (a, b) => {
    const seen: Record<string, HubEvent[]> = { a: [], b: [] };
    a.hub.events.subscribe((e) => seen.a?.push(e));
    b.hub.events.subscribe((e) => seen.b?.push(e));
    const base = {
      clinicId: 'clinic-a',
      deviceId: 'edge-a1',
      patient: 'alice',
      laterality: 'L',
      view: 'CC',
      score: 0.7,
    } as const;
    for (const [studyDate, diameterMm] of [
      ['2023-01-10', 6],
      ['2024-01-12', 11],
    ] as const) {
      const result = studyResult({ ...base, studyDate, findings: [{ x: 0.4, y: 0.3, diameterMm, score: 0.7 }] });
      assert.equal(
        await a.hub.ingest.submit(topicFor(base, 'results'), Buffer.from(JSON.stringify(result)), 'edge-a1'),
        'stored',
      );
    }
    const resultsAtB = await waitFor('both result events at replica b', () => {
      const r = seen.b?.filter((e) => e.type === 'results') ?? [];
      return r.length === 2 ? r : undefined;
    });
    assert.deepEqual(resultsAtB[0], { type: 'results', count: 1, clinicIds: ['clinic-a'] });
    const growth = await waitFor('the growth alert raised on replica a reaches replica b', () =>
      seen.b?.find((e) => e.type === 'alert' && e.alert.kind === 'growth'),
    );
    assert.equal(growth.type === 'alert' && growth.alert.clinicId, 'clinic-a');
    // Replica a saw its own events once (not again through the relay).
    await waitFor('replica a saw its growth alert', () => seen.a?.some((e) => e.type === 'alert' && e.alert.kind === 'growth'));
    const count = (who: string, type: string) => seen[who]?.filter((e) => e.type === type).length;
    await new Promise((resolve) => setTimeout(resolve, 300)); // a duplicate would arrive within this
    assert.equal(count('a', 'results'), 2);
    assert.equal(count('b', 'results'), 2);
    assert.equal(count('a', 'alert'), count('b', 'alert'));
  }));

test('a burst of events crosses in few notifications, complete and in order; a one-event notification is still read', () =>
  withTwoReplicas('burst', async (a, b, url) => {
    const counts: number[] = [];
    b.hub.events.subscribe((e) => {
      if (e.type === 'results') counts.push(e.count);
    });
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    let notifications = 0;
    let heard = 0;
    client.on('notification', (n) => {
      notifications++;
      heard += (JSON.parse(n.payload ?? '{}') as { events?: unknown[] }).events?.length ?? 0;
    });
    await client.query('LISTEN vigil_events');
    // Each event is about 60 characters: 2 000 of them cannot fit one notification (8 000 bytes).
    for (let i = 1; i <= 2000; i++) a.hub.events.emit({ type: 'results', count: i, clinicIds: ['clinic-a'] });
    await waitFor('2 000 events at replica b', () => counts.length >= 2000, 60_000);
    assert.deepEqual(
      counts,
      Array.from({ length: 2000 }, (_, i) => i + 1),
    );
    await waitFor('the listener heard them all', () => heard >= 2000);
    assert.ok(notifications >= 16 && notifications <= 100, `${notifications} notifications for 2 000 events`);
    // A replica of the previous version sends one event per notification.
    await client.query('SELECT pg_notify($1, $2)', [
      'vigil_events',
      JSON.stringify({ origin: 'replica-old', event: { type: 'results', count: 9999, clinicIds: ['clinic-a'] } }),
    ]);
    await client.end();
    await waitFor('the one-event notification read', () => counts.includes(9999));
    assert.equal(counts.length, 2001);
  }));
