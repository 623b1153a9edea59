import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { createLogger, type ResultMessage } from '@vigil/shared';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import type { HubEvent } from '../src/events/hub-events.js';
import { DEFAULT_FOLLOWUP_POLICY } from '../src/followup/followup-service.js';
import { FollowupThread } from '../src/followup/followup-thread.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

const base = { clinicId: 'clinic-a', deviceId: 'edge-a1', laterality: 'L', view: 'CC' } as const;

function growingLesion(patient: string): ResultMessage[] {
  return [
    studyResult({
      ...base,
      patient,
      studyDate: '2022-01-10',
      score: 0.7,
      findings: [{ x: 0.42, y: 0.31, diameterMm: 6.1, score: 0.7 }],
    }),
    studyResult({
      ...base,
      patient,
      studyDate: '2022-07-06',
      score: 0.75,
      findings: [{ x: 0.43, y: 0.3, diameterMm: 9.4, score: 0.75 }],
    }),
  ];
}

async function setup() {
  const dir = makeTempDir('followup-thread');
  const statePath = join(dir.path, 'state.sqlite');
  const state = new SqliteStateStore(statePath);
  const events: HubEvent[] = [];
  const restarted = { count: 0 };
  const thread = new FollowupThread({
    state: { driver: 'sqlite', path: statePath },
    store: state.followup,
    logger: createLogger('test', { level: 'silent' }),
    events: { emit: (event) => events.push(event) },
    policy: DEFAULT_FOLLOWUP_POLICY,
    sweepIntervalMs: 3_600_000,
    restartDelayMs: 50,
    onRestart: () => {
      restarted.count += 1;
    },
  });
  const ingest = (results: ResultMessage[]) => state.commitIngest(ingestBatch({ results }));
  return {
    state,
    thread,
    events,
    restarted,
    ingest,
    async dispose() {
      await thread.stop();
      await state.close();
      dir.remove();
    },
  };
}

test('the worker recomputes noted patients, saves their timelines and its alerts reach the main thread', async () => {
  const s = await setup();
  try {
    await s.ingest(growingLesion('alice'));
    s.thread.start();
    s.thread.notePatients([patientKeyOf('alice')]);
    await s.thread.settled();
    const patient = await s.state.followup.getPatient(patientKeyOf('alice'));
    assert.equal(patient?.studies, 2);
    assert.equal(patient?.lastStudyDate, '2022-07-06');
    // A lesion that grew 6.1 → 9.4 mm, last seen in 2022: a growth alert, and the follow-up is overdue.
    const kinds = s.events.flatMap((e) => (e.type === 'alert' ? [e.alert.kind] : [])).sort();
    assert.deepEqual(kinds, ['growth', 'overdue']);
    assert.equal(patient?.openAlerts, 2);
    // Reads are served on the main thread from the same database.
    const { timeline } = await s.thread.timeline(patientKeyOf('alice'));
    assert.equal(timeline.studies.length, 2);
  } finally {
    await s.dispose();
  }
});

test('a worker that dies is replaced and the patients noted to it are recomputed by its successor', async () => {
  const s = await setup();
  try {
    await s.ingest(growingLesion('bob'));
    s.thread.start();
    await s.thread.settled();
    s.thread.notePatients([patientKeyOf('bob')]);
    assert.equal(s.thread.pendingPatients(), 1);
    // The worker waits ~20 ms to coalesce notes before recomputing: it dies before it could.
    await (s.thread as unknown as { worker: Worker }).worker.terminate();
    assert.equal(await s.state.followup.getPatient(patientKeyOf('bob')), undefined, 'not recomputed before it died');
    await s.thread.settled();
    assert.equal(s.thread.restarts, 1);
    assert.equal(s.restarted.count, 1);
    assert.equal(s.thread.pendingPatients(), 0, 'the replacement reported bob done');
    const patient = await s.state.followup.getPatient(patientKeyOf('bob'));
    assert.equal(patient?.studies, 2, 'bob was recomputed by the replacement worker');
    assert.equal(patient?.openAlerts, 2);
    assert.equal(s.events.filter((e) => e.type === 'alert').length, 2, 'each alert announced once');
  } finally {
    await s.dispose();
  }
});
