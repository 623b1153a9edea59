// A new-finding alert made before the other view of the study arrived waits "to review"; it is brought
// up to date (into the inbox, when the other view shows the lesion) while it is still open; once a
// clinician has acknowledged it, it keeps what they saw.
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

test('an open new-finding alert moves into the inbox when the other view shows it; an acknowledged one is kept', async () => {
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
    for (const patient of ['ann', 'bea', 'cid']) {
      await ingest(views(patient, 'CC', 0.62));
      await followup.recompute(patientKeyOf(patient));
      const alert = await newFinding(patient);
      assert.equal(alert.severity, 'info', 'to review until the other view is in');
      assert.match(alert.reason, /; the MLO view is not in yet$/);
    }
    await state.followup.transitionAlert((await newFinding('bea')).alertKey, 'acknowledged', 'dr-who');

    // The MLO views arrive: ann's and bea's show the lesion at the same distance from the chest
    // wall, cid's shows nothing there.
    for (const patient of ['ann', 'bea']) await ingest(views(patient, 'MLO', 0.625));
    await ingest(views('cid', 'MLO', 0.15));
    events.length = 0;
    const annOutcome = await followup.recompute(patientKeyOf('ann'));
    const beaOutcome = await followup.recompute(patientKeyOf('bea'));
    await followup.recompute(patientKeyOf('cid'));

    const ann = await newFinding('ann');
    assert.equal(ann.severity, 'critical', 'corroborated by the other view: into the inbox');
    assert.match(ann.reason, /; also seen in the MLO view \(8\.0 mm\)$/);
    assert.equal(ann.status, 'open');
    assert.deepEqual(
      annOutcome?.updated.filter((a) => a.kind === 'new-finding').map((a) => a.alertKey),
      [ann.alertKey],
    );
    // One alert for the lesion: the MLO sighting did not open a second one.
    const annAlerts = await state.followup.listAlerts({ patientKey: patientKeyOf('ann'), limit: 50 });
    assert.deepEqual(
      annAlerts.items.filter((a) => a.kind === 'new-finding').map((a) => a.alertKey),
      [ann.alertKey],
    );
    assert.ok(events.some((e) => e.type === 'alert' && e.alert.alertKey === ann.alertKey && e.alert.severity === 'critical'));

    const bea = await newFinding('bea');
    assert.equal(bea.status, 'acknowledged');
    assert.equal(bea.severity, 'info', 'what the clinician acknowledged stays as it was');
    assert.match(bea.reason, /; the MLO view is not in yet$/);
    assert.deepEqual(
      beaOutcome?.updated.filter((a) => a.kind === 'new-finding'),
      [],
    );

    const cid = await newFinding('cid');
    assert.equal(cid.severity, 'info');
    assert.match(cid.reason, /; not seen in the MLO view$/);

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
