// A new-finding alert made before the other view of the study arrived is brought up to date when it
// does, while it is still open; once a clinician has acknowledged it, it keeps what they saw.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLogger, type ResultMessage } from '@vigil/shared';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { makeTempDir } from '../../scripts/harness/temp-dir.js';
import type { HubEvent } from '../src/events/hub-events.js';
import { FollowupService } from '../src/followup/followup-service.js';
import { SqliteStateStore } from '../src/storage/sqlite/sqlite-state-store.js';

const base = { clinicId: 'clinic-a', deviceId: 'edge-a1', laterality: 'L' } as const;

function views(patient: string, view: 'CC' | 'MLO', followupFindingX: number | undefined): ResultMessage[] {
  return [
    studyResult({ ...base, patient, view, studyDate: '2021-03-01', score: 0.1, findings: [] }),
    studyResult({
      ...base,
      patient,
      view,
      studyDate: '2022-03-01',
      score: 0.9,
      findings: followupFindingX === undefined ? [] : [{ x: followupFindingX, y: 0.4, diameterMm: 8, score: 0.9 }],
    }),
  ];
}

test('an open new-finding alert is updated when the other view arrives; an acknowledged one is not', async () => {
  const dir = makeTempDir('cross-view');
  const state = new SqliteStateStore(join(dir.path, 'state.sqlite'));
  const events: HubEvent[] = [];
  const followup = new FollowupService({
    store: state.followup,
    logger: createLogger('test', { level: 'silent' }),
    events: { emit: (e) => events.push(e) },
    today: () => '2022-03-02',
  });
  const ingest = (results: ResultMessage[]) => state.commitIngest(ingestBatch({ results }));
  const newFinding = async (patient: string) => {
    const page = await state.followup.listAlerts({ patientKey: patientKeyOf(patient), limit: 50 });
    const alert = page.items.find((a) => a.kind === 'new-finding' && a.view === 'CC');
    assert.ok(alert, `a new-finding alert on ${patient}'s CC view`);
    return alert;
  };
  try {
    for (const patient of ['ann', 'bea']) {
      await ingest(views(patient, 'CC', 0.62));
      await followup.recompute(patientKeyOf(patient));
      const alert = await newFinding(patient);
      assert.equal(alert.severity, 'critical');
      assert.doesNotMatch(alert.reason, /view$/, 'nothing said about the MLO view before it exists');
    }
    await state.followup.transitionAlert((await newFinding('bea')).alertKey, 'acknowledged', 'dr-who');

    // Both MLO views arrive, showing nothing at that distance from the chest wall.
    for (const patient of ['ann', 'bea']) await ingest(views(patient, 'MLO', 0.15));
    events.length = 0;
    const annOutcome = await followup.recompute(patientKeyOf('ann'));
    const beaOutcome = await followup.recompute(patientKeyOf('bea'));

    const ann = await newFinding('ann');
    assert.equal(ann.severity, 'warning');
    assert.match(ann.reason, /; not seen in the MLO view$/);
    assert.equal(ann.status, 'open');
    assert.deepEqual(
      annOutcome?.updated.map((a) => a.alertKey),
      [ann.alertKey],
    );
    assert.ok(events.some((e) => e.type === 'alert' && e.alert.alertKey === ann.alertKey && e.alert.severity === 'warning'));

    const bea = await newFinding('bea');
    assert.equal(bea.status, 'acknowledged');
    assert.equal(bea.severity, 'critical', 'what the clinician acknowledged stays as it was');
    assert.doesNotMatch(bea.reason, /view$/);
    assert.deepEqual(beaOutcome?.updated, []);

    // Recomputing again changes nothing and announces nothing.
    events.length = 0;
    assert.deepEqual((await followup.recompute(patientKeyOf('ann')))?.updated, []);
    assert.equal(events.length, 0);
  } finally {
    await followup.stop();
    await state.close();
    dir.remove();
  }
});
