// Follow-up hardening against a real hub, with a real MQTT device client: a study dated 2099-12-31 for
// an overdue high-risk patient must not close her overdue alert, lower her category or move her due date.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodeMessage, type ResultMessage, topicFor } from '@vigil/shared';
import mqtt from 'mqtt';
import { studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { assertPlausibleStudyDate } from '../src/ingest/study-date-plausibility.js';

const DEVICE = { clinicId: 'clinic-a', deviceId: 'edge-1' };
const FOUR_VIEWS = [
  ['L', 'CC'],
  ['L', 'MLO'],
  ['R', 'CC'],
  ['R', 'MLO'],
] as const;

/** A hub with one device and an overdue category-5 patient: a high score with a large finding, last seen in 2024. */
async function overduePatient(patient: string) {
  const t = await startTestHub();
  const password = await t.addDevice(DEVICE.clinicId, DEVICE.deviceId);
  const seen = studyResult({
    ...DEVICE,
    patient,
    studyDate: '2024-03-01',
    laterality: 'L',
    view: 'CC',
    score: 0.95,
    findings: [{ x: 0.4, y: 0.3, diameterMm: 18, score: 0.95 }],
  });
  seen.image.tissueFraction = 0.41;
  assert.equal(await t.hub.ingest.submit(topicFor(DEVICE, 'results'), encodeMessage(seen), DEVICE.deviceId), 'stored');
  await t.hub.followup.settled();
  const openOverdue = async () =>
    (await t.hub.state.followup.listAlerts({ status: 'open', limit: 100 })).items.filter(
      (a) => a.kind === 'overdue' && a.patientKey === seen.patientKey,
    );
  await waitFor('the overdue alert', async () => (await openOverdue()).length === 1);
  const before = await t.hub.state.followup.getPatient(seen.patientKey);
  assert.equal(before?.category, 5);
  /** Publishes the four views of one study over MQTT, as the device. */
  const publishStudy = async (studyDate: string, change: (r: ResultMessage) => ResultMessage) => {
    const client = await mqtt.connectAsync(t.mqttUrl, { clientId: DEVICE.deviceId, username: DEVICE.deviceId, password });
    for (const [laterality, view] of FOUR_VIEWS) {
      const r = studyResult({ ...DEVICE, patient, studyDate, laterality, view, score: 0.01, findings: [] });
      await client.publishAsync(topicFor(DEVICE, 'results'), encodeMessage(change(r)), { qos: 1 });
    }
    await client.endAsync();
  };
  return { t, seen, before, openOverdue, publishStudy };
}

test('a future-dated study is dead-lettered with a code and leaves the overdue alert open', async () => {
  const { t, seen, before, openOverdue, publishStudy } = await overduePatient('high-risk');
  try {
    // The attack: four blank views dated 2099-12-31, published by a device over MQTT.
    await publishStudy('2099-12-31', (r) => ({ ...r, createdAt: new Date().toISOString() }));
    await waitFor('four dead letters', async () => {
      const letters = await t.hub.state.listDeadLetters(100);
      return letters.filter((d) => d.code === 'VIGIL_RESULT_IMPLAUSIBLE_DATE').length === 4;
    });
    await t.hub.followup.settled();
    assert.equal((await openOverdue()).length, 1, 'the overdue alert is still open');
    const after = await t.hub.state.followup.getPatient(seen.patientKey);
    assert.deepEqual(after, before, 'category, due date and studies unchanged');
  } finally {
    await t.stop();
  }
});

test('a study of blank images (no tissue) is not the follow-up that clears an overdue alert', async () => {
  const { t, seen, before, openOverdue, publishStudy } = await overduePatient('high-risk-2');
  try {
    // Four blank views, plausibly dated yesterday: stored, but no follow-up.
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    await publishStudy(yesterday, (r) => ({ ...r, image: { ...r.image, tissueFraction: 0 } }));
    await waitFor('the blank study stored', async () => (await t.hub.state.countResults()) === 5);
    await t.hub.followup.settled();
    await waitFor(
      'the timeline lists the blank study',
      async () => (await t.hub.state.followup.getPatient(seen.patientKey))?.studies === 2,
    );
    const after = await t.hub.state.followup.getPatient(seen.patientKey);
    assert.equal((await openOverdue()).length, 1, 'the overdue alert is still open');
    assert.equal(after?.category, 5, 'the category did not fall to 1');
    assert.equal(after?.dueDate, before?.dueDate, 'the due date did not move');
    assert.equal(after?.lastStudyDate, '2024-03-01');
    const timeline = await t.hub.followup.timeline(seen.patientKey);
    assert.deepEqual(
      timeline.timeline.studies.map((s) => [s.studyDate, s.analysable]),
      [
        ['2024-03-01', true],
        [yesterday, false],
      ],
    );
  } finally {
    await t.stop();
  }
});

test('study dates are checked against the clock, the modality era, the result and the patient', () => {
  const now = Date.parse('2026-12-01T12:00:00Z');
  const ok = { studyDate: '2026-12-01', createdAt: '2026-12-01T12:00:00Z', patientAgeYears: 55 };
  assert.doesNotThrow(() => assertPlausibleStudyDate(ok, now));
  assert.doesNotThrow(() => assertPlausibleStudyDate({ ...ok, studyDate: '2026-12-02' }, now), 'a day of clock skew');
  for (const [bad, why] of [
    [{ ...ok, studyDate: '2099-12-31' }, /future/],
    [{ ...ok, studyDate: '1970-01-01' }, /before 1985/],
    [{ ...ok, studyDate: '2026-02-30' }, /calendar/],
    [{ ...ok, studyDate: '2026-11-30', createdAt: '2026-11-01T00:00:00Z' }, /after the result was created/],
    [{ ...ok, studyDate: '1990-01-01', patientAgeYears: 120 }, /birth/],
  ] as const) {
    assert.throws(
      () => assertPlausibleStudyDate(bad, now),
      (error: Error & { code?: string }) => error.code === 'VIGIL_RESULT_IMPLAUSIBLE_DATE' && why.test(error.message),
      JSON.stringify(bad),
    );
  }
});
