// A replica notes the patients of each committed batch in memory; killed before recomputing them, it
// would leave their timelines stale. The sweep holder's catch-up finds results no timeline includes
// yet (older than a minute, from the last day) and recomputes those patients, on both engines' SQL.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { FollowupService } from '../src/followup/followup-service.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

test('follow-up catch-up recomputes patients whose results were committed but never recomputed', async () => {
  const dir = makeTempDir('catch-up');
  const state = new SqliteStateStore(join(dir.path, 'state.sqlite'));
  const followup = new FollowupService({
    store: state.followup,
    logger: createLogger('test', { level: 'silent' }),
    events: { emit: () => undefined },
  });
  const result = (patient: string, studyDate: string) =>
    studyResult({
      clinicId: 'clinic-a',
      deviceId: 'edge-a1',
      laterality: 'L',
      view: 'CC',
      patient,
      studyDate,
      score: 0.2,
      findings: [],
    });
  try {
    // Times of arrival are set by hand, each consistent with when it was saved: a catch-up five
    // minutes from now sees the later stale result as arrived after its patient's last save.
    const base = Date.now();
    const now = base + 5 * 60_000;
    const at = (msAgo: number) => new Date(base - msAgo).toISOString();
    // Committed, and the note lost with the replica: nobody recomputed these.
    await state.commitIngest({ ...ingestBatch({ results: [result('lost', '2026-01-05')] }), receivedAt: at(5 * 60_000) });
    // Recomputed as usual, then a later result whose note was lost.
    await state.commitIngest({ ...ingestBatch({ results: [result('stale', '2025-01-05')] }), receivedAt: at(10 * 60_000) });
    await followup.recompute(patientKeyOf('stale'));
    await state.commitIngest({ ...ingestBatch({ results: [result('stale', '2026-01-05')] }), receivedAt: at(-1000) });
    // Up to date, and too recent to count (its replica may still be computing it), and too old.
    await state.commitIngest({ ...ingestBatch({ results: [result('done', '2026-01-05')] }), receivedAt: at(6 * 60_000) });
    await followup.recompute(patientKeyOf('done'));
    await state.commitIngest({
      ...ingestBatch({ results: [result('recent', '2026-01-05')] }),
      receivedAt: at(10_000 - 5 * 60_000),
    });
    await state.commitIngest({ ...ingestBatch({ results: [result('old', '2026-01-05')] }), receivedAt: at(2 * 86_400_000) });

    assert.equal((await state.followup.getPatient(patientKeyOf('stale')))?.studies, 1, 'stale before the catch-up');
    // Past the later stale result's arrival, so the catch-up's own saves come after it.
    while (Date.now() <= base + 1000) await new Promise((resolve) => setTimeout(resolve, 100));
    const noted = await followup.catchUp(now);
    await followup.settled();
    assert.equal(noted, 2, 'the lost and the stale patient, nobody else');
    assert.ok(await state.followup.getPatient(patientKeyOf('lost')), 'the lost patient has a timeline');
    assert.equal(
      (await state.followup.getPatient(patientKeyOf('stale')))?.studies,
      2,
      'the stale timeline includes the later study',
    );
    assert.equal(
      await state.followup.getPatient(patientKeyOf('recent')),
      undefined,
      'a result under a minute old is left to its replica',
    );
    assert.equal(await state.followup.getPatient(patientKeyOf('old')), undefined, 'the catch-up looks back one day');
    assert.equal(await followup.catchUp(now), 0, 'nothing owed afterwards');
  } finally {
    await state.close();
    dir.remove();
  }
});
