// A study's images reach the hub over several ingest batches (and, behind an external broker, over
// several consumer connections). Follow-up recomputes a patient once their results have stopped
// arriving for a moment, not after every batch, and a patient noted while others wait does not
// hold those others back.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger } from '@vigil/shared';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import { FollowupService } from '../src/followup/followup-service.js';
import type { TimelineSave } from '../src/followup/followup-store.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

test('a patient whose images arrive in several batches is recomputed once, with all of them', async () => {
  const dir = makeTempDir('coalescing');
  const state = new SqliteStateStore(join(dir.path, 'state.sqlite'));
  // The real store, with each save's patients recorded on the way through.
  const saved: string[] = [];
  const store = Object.create(state.followup) as typeof state.followup;
  store.saveTimelines = (entries: TimelineSave[]) => {
    saved.push(...entries.map((e) => e.summary.patientKey));
    return state.followup.saveTimelines(entries);
  };
  const followup = new FollowupService({
    store,
    logger: createLogger('test', { level: 'silent' }),
    events: { emit: () => undefined },
  });
  const image = (patient: string, laterality: 'L' | 'R', view: 'CC' | 'MLO') =>
    studyResult({
      clinicId: 'clinic-a',
      deviceId: 'edge-a1',
      laterality,
      view,
      patient,
      studyDate: '2026-01-05',
      score: 0.2,
      findings: [],
    });
  try {
    // Four images of one study, committed and noted one batch at a time, 100 ms apart.
    for (const [laterality, view] of [
      ['L', 'CC'],
      ['R', 'CC'],
      ['L', 'MLO'],
      ['R', 'MLO'],
    ] as const) {
      await state.commitIngest(ingestBatch({ results: [image('ana', laterality, view)] }));
      followup.notePatients([patientKeyOf('ana')]);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await followup.settled();
    assert.deepEqual(saved, [patientKeyOf('ana')], 'one recomputation for the four batches');
    const timeline = await followup.timeline(patientKeyOf('ana'));
    assert.equal(timeline.timeline.studies.length, 1);
    assert.equal((await state.followup.getPatient(patientKeyOf('ana')))?.studies, 1);

    // Another patient's notes keep coming; the settled one is not held back by them.
    saved.length = 0;
    await state.commitIngest(ingestBatch({ results: [image('bea', 'L', 'CC')] }));
    followup.notePatients([patientKeyOf('bea')]);
    const started = Date.now();
    for (let i = 0; i < 20; i++) {
      await state.commitIngest(ingestBatch({ results: [image('cleo', i % 2 ? 'R' : 'L', i < 10 ? 'CC' : 'MLO')] }));
      followup.notePatients([patientKeyOf('cleo')]);
      await new Promise((resolve) => setTimeout(resolve, 150));
      if (saved.includes(patientKeyOf('bea'))) break;
    }
    assert.ok(saved.includes(patientKeyOf('bea')), `bea recomputed while cleo's notes kept coming (${Date.now() - started} ms)`);
    assert.ok(!saved.includes(patientKeyOf('cleo')) || saved.indexOf(patientKeyOf('bea')) < saved.indexOf(patientKeyOf('cleo')));
    await followup.settled();
    assert.equal(saved.filter((k) => k === patientKeyOf('cleo')).length >= 1, true);
  } finally {
    await followup.stop();
    await state.close();
    dir.remove();
  }
});
