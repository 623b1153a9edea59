// Clinic scope against a real hub with real MQTT device clients: a device of another clinic
// publishing results under a known patient key. The patient keeps her clinics, every alert names the
// clinic and device whose evidence raised it, and a device can only add evidence under its own clinic.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { provisionUser } from '@vigil/cloud-hub';
import { encodeMessage, type ResultMessage, topicFor } from '@vigil/shared';
import mqtt from 'mqtt';
import { login } from '../../scripts/harness/api-client.js';
import { studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { waitFor } from '../../scripts/harness/wait-for.js';

test('another clinic’s device adds evidence only under its own clinic, named on every alert', async () => {
  const t = await startTestHub();
  try {
    const a = { clinicId: 'clinic-a', deviceId: 'edge-a' };
    const b = { clinicId: 'clinic-b', deviceId: 'edge-b' };
    const passwords = { a: await t.addDevice(a.clinicId, a.deviceId), b: await t.addDevice(b.clinicId, b.deviceId) };
    const publish = async (device: typeof a, password: string, results: ResultMessage[], topicDevice = device) => {
      const client = await mqtt.connectAsync(t.mqttUrl, { clientId: device.deviceId, username: device.deviceId, password });
      for (const r of results) await client.publishAsync(topicFor(topicDevice, 'results'), encodeMessage(r), { qos: 1 });
      await client.endAsync();
    };
    const recent = (daysAgo: number) => new Date(Date.now() - daysAgo * 86_400_000).toISOString().slice(0, 10);
    // Clinic A follows a patient with a small finding, twice.
    const own = [recent(200), recent(20)].map((studyDate, k) =>
      studyResult({
        ...a,
        patient: 'shared-patient',
        studyDate,
        laterality: 'L',
        view: 'CC',
        score: 0.6,
        findings: [{ x: 0.4, y: 0.3, diameterMm: 8 + k * 0.5, score: 0.6 }],
      }),
    );
    await publish(a, passwords.a, own);
    const patientKey = own[0]?.patientKey as string;
    await waitFor('clinic A timeline', async () => (await t.hub.state.followup.getPatient(patientKey))?.studies === 2);

    // Clinic B's device (compromised, or a real visit there) reports the same patient key with a 45 mm finding.
    const foreign = studyResult({
      ...b,
      patient: 'shared-patient',
      studyDate: recent(2),
      laterality: 'L',
      view: 'CC',
      score: 0.97,
      findings: [{ x: 0.41, y: 0.3, diameterMm: 45, score: 0.97 }],
    });
    await publish(b, passwords.b, [foreign]);
    await waitFor('three studies', async () => (await t.hub.state.followup.getPatient(patientKey))?.studies === 3);
    await t.hub.followup.settled();

    const patient = await t.hub.state.followup.getPatient(patientKey);
    assert.equal(patient?.clinicId, 'clinic-a', "the patient's clinic is not overwritten by the last sender");
    assert.deepEqual(patient?.clinicIds, ['clinic-a', 'clinic-b'], 'she keeps every clinic she was seen at');

    const alerts = (await t.hub.state.followup.listAlerts({ limit: 100 })).items.filter((x) => x.patientKey === patientKey);
    const growth = alerts.filter((x) => x.kind === 'growth');
    assert.ok(growth.length >= 1, `growth alert from the 45 mm finding: ${JSON.stringify(alerts.map((x) => x.kind))}`);
    for (const alert of alerts) {
      const source = alert.studyKey === foreign.studyKey ? b : a;
      assert.deepEqual(
        { clinicId: alert.clinicId, deviceId: alert.deviceId },
        source,
        `${alert.kind} names the clinic and device whose study raised it`,
      );
    }
    assert.ok(growth.every((x) => x.clinicId === 'clinic-b' && x.deviceId === 'edge-b'));
    // Clinic A's own alert list shows only what its own evidence raised; the patient list shows her at both.
    const clinicA = await t.hub.state.followup.listAlerts({ clinicId: 'clinic-a', limit: 100 });
    assert.ok(clinicA.items.every((x) => x.clinicId === 'clinic-a'));
    const atB = await t.hub.state.followup.listPatients({ clinicId: 'clinic-b', limit: 100 });
    assert.deepEqual(
      atB.items.map((p) => p.patientKey),
      [patientKey],
    );

    // A device cannot speak for another clinic: the payload must match its own topic.
    const impersonation = studyResult({
      ...a,
      patient: 'shared-patient',
      studyDate: recent(1),
      laterality: 'R',
      view: 'CC',
      score: 0.1,
      findings: [],
    });
    await publish(b, passwords.b, [impersonation], b);
    await waitFor('dead letter for the impersonation', async () =>
      (await t.hub.state.listDeadLetters(100)).some((d) => d.code === 'VIGIL_PAYLOAD_IDENTITY_MISMATCH'),
    );
    assert.equal((await t.hub.state.followup.getPatient(patientKey))?.studies, 3, 'nothing stored under clinic A');

    // The API and dashboard see whose evidence it is.
    const user = await provisionUser(t.hub.auth, t.hub.state.audit, {
      username: 'doc1',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
    });
    const { client } = await login(t.httpUrl, 'doc1', user.password, user.totpSecret);
    const api = await client.get<{ items: { kind: string; clinicId: string; deviceId: string | null }[] }>(
      `/api/v1/alerts?patientKey=${patientKey}&kind=growth`,
    );
    assert.ok(api.body.items.length >= 1 && api.body.items.every((x) => x.clinicId === 'clinic-b' && x.deviceId === 'edge-b'));
    const timeline = await client.get<{ studies: { clinicId: string; deviceId: string }[] }>(
      `/api/v1/patients/${patientKey}/timeline`,
    );
    assert.deepEqual(
      timeline.body.studies.map((s) => `${s.clinicId}/${s.deviceId}`),
      ['clinic-a/edge-a', 'clinic-a/edge-a', 'clinic-b/edge-b'],
    );

    // Second review, item 3: clinic B's device naming clinic A's patient grants clinic B's users
    // nothing of clinic A's studies, results, alerts or verdicts; the match is surfaced for review.
    const scoped = async (username: string, role: 'clinician' | 'ops', clinics: string[]) => {
      const u = await provisionUser(t.hub.auth, t.hub.state.audit, { username, role, enrolTotp: true, actor: 'test', clinics });
      return (await login(t.httpUrl, username, u.password, u.totpSecret)).client;
    };
    const south = await scoped('dr.b', 'clinician', ['clinic-b']);
    const seenByB = await south.get<{
      studies: { clinicId: string }[];
      alerts: { clinicId: string }[];
      patient: { clinicIds: string[] };
    }>(`/api/v1/patients/${patientKey}/timeline`);
    assert.equal(seenByB.status, 200, 'clinic B saw her: it may open her');
    assert.deepEqual(
      seenByB.body.studies.map((s) => s.clinicId),
      ['clinic-b'],
      "and sees only its own device's study",
    );
    assert.deepEqual(seenByB.body.patient.clinicIds, ['clinic-b']);
    assert.ok(seenByB.body.alerts.every((x) => x.clinicId === 'clinic-b'));
    const results = await south.get<{ items: { clinicId: string }[] }>(`/api/v1/results?patientKey=${patientKey}&limit=50`);
    assert.deepEqual(
      results.body.items.map((r) => r.clinicId),
      ['clinic-b'],
    );
    for (const r of own) assert.equal((await south.get(`/api/v1/results/${r.messageId}`)).status, 404, "clinic A's result");
    const aAlert = (await t.hub.state.followup.listAlerts({ clinicId: 'clinic-a', limit: 10 })).items[0];
    if (aAlert) assert.equal((await south.post(`/api/v1/alerts/${aAlert.alertKey}/acknowledge`)).status, 404, "clinic A's alert");
    // Surfaced for review: an ops alert that only a network-wide ops user sees.
    const netOps = await provisionUser(t.hub.auth, t.hub.state.audit, {
      username: 'ops.net',
      role: 'ops',
      enrolTotp: true,
      actor: 'test',
    });
    const ops = (await login(t.httpUrl, 'ops.net', netOps.password, netOps.totpSecret)).client;
    await waitFor('cross-clinic ops alert', async () =>
      (await ops.get<{ items: { kind: string }[] }>('/api/v1/ops-alerts')).body.items.some(
        (x) => x.kind === 'cross-clinic-patient',
      ),
    );
    const raised = (
      await ops.get<{ items: { kind: string; details: { patientKey: string; added: string[] } }[] }>('/api/v1/ops-alerts')
    ).body.items.find((x) => x.kind === 'cross-clinic-patient');
    assert.equal(raised?.details.patientKey, patientKey);
    assert.deepEqual(raised?.details.added, ['clinic-b']);
    const opsB = await scoped('ops.b', 'ops', ['clinic-b']);
    const seenByOpsB = await opsB.get<{ items: { kind: string }[] }>('/api/v1/ops-alerts');
    assert.ok(!seenByOpsB.body.items.some((x) => x.kind === 'cross-clinic-patient'), 'a scoped ops user is not the reviewer');
  } finally {
    await t.stop();
  }
});
