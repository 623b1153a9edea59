// Issue 16, items 1 and 6 through the real API: clinic-scoped users see nothing of another clinic's
// patients on any route (lists, cursors, single objects, verdicts, performance, exports, live
// events), and clinicians' verdicts are stored, amended with history, audited and imported whole.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newMessageId, STATUS_SCHEMA, topicFor } from '@vigil/shared';
import { ApiClient, login } from '../../scripts/harness/api-client.js';
import { openEventStream } from '../../scripts/harness/event-stream.js';
import { patientKeyOf, studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub, type TestHub } from '../../scripts/harness/hub-fixture.js';
import { ingestBatch } from '../../scripts/harness/ingest-batch.js';
import { waitFor } from '../../scripts/harness/wait-for.js';
import { provisionUser } from '../src/auth/user-provisioning.js';
import type { Role } from '../src/auth/user-store.js';

interface Page<T = Record<string, unknown>> {
  items: T[];
  next: string | null;
}
type Result = { messageId: string; patientKey: string; studyKey: string; clinicId: string; findings: unknown[] };

describe('clinic-scoped access and verdicts', () => {
  let h: TestHub;
  const api = {} as Record<'a' | 'b' | 'network' | 'opsA' | 'admin', ApiClient>;
  const alice = patientKeyOf('alice'); // clinic A only
  const bob = patientKeyOf('bob'); // clinic B only
  const shared = patientKeyOf('shared'); // clinic A, then clinic B
  const A = { clinicId: 'clinic-a', deviceId: 'edge-a1' } as const;
  const B = { clinicId: 'clinic-b', deviceId: 'edge-b1' } as const;
  const finding = (d: number, score = 0.8) => [{ x: 0.4, y: 0.3, diameterMm: d, score }];
  const results = [
    studyResult({
      ...A,
      patient: 'alice',
      studyDate: '2024-01-10',
      laterality: 'L',
      view: 'CC',
      score: 0.8,
      findings: finding(6),
    }),
    studyResult({
      ...A,
      patient: 'alice',
      studyDate: '2024-07-10',
      laterality: 'L',
      view: 'CC',
      score: 0.9,
      findings: finding(11),
    }),
    studyResult({ ...B, patient: 'bob', studyDate: '2024-01-11', laterality: 'R', view: 'CC', score: 0.8, findings: finding(7) }),
    studyResult({
      ...B,
      patient: 'bob',
      studyDate: '2024-07-11',
      laterality: 'R',
      view: 'CC',
      score: 0.9,
      findings: finding(12),
    }),
    studyResult({
      ...A,
      patient: 'shared',
      studyDate: '2024-02-01',
      laterality: 'L',
      view: 'MLO',
      score: 0.7,
      findings: finding(5, 0.7),
    }),
    studyResult({
      ...B,
      patient: 'shared',
      studyDate: '2024-08-01',
      laterality: 'L',
      view: 'MLO',
      score: 0.8,
      findings: finding(9),
    }),
  ];
  const [alice1, alice2, bob1] = results as [(typeof results)[0], (typeof results)[0], (typeof results)[0]];

  async function user(name: string, role: Role, clinics?: string[]): Promise<ApiClient> {
    const created = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: name,
      role,
      enrolTotp: true,
      actor: 'test',
      ...(clinics ? { clinics } : {}),
    });
    const { client } = await login(h.httpUrl, name, created.password, created.totpSecret);
    const token = await client.post<{ token: string }>('/api/v1/tokens', { name: 'test' });
    assert.equal(token.status, 201);
    return new ApiClient(h.httpUrl, { bearer: token.body.token });
  }

  before(async () => {
    h = await startTestHub({ auth: { loginRateLimitPerMinute: 1000 } });
    await h.addDevice(A.clinicId, A.deviceId);
    await h.addDevice(B.clinicId, B.deviceId);
    for (const r of results) {
      const topic = topicFor({ clinicId: r.clinicId, deviceId: r.deviceId }, 'results');
      assert.equal(await h.hub.ingest.submit(topic, Buffer.from(JSON.stringify(r)), r.deviceId), 'stored');
    }
    await h.hub.ingest.close();
    await h.hub.followup.settled();
    api.a = await user('dr.a', 'clinician', ['clinic-a']);
    api.b = await user('dr.b', 'clinician', ['clinic-b']);
    api.network = await user('dr.net', 'clinician');
    api.opsA = await user('ops.a', 'ops', ['clinic-a']);
    api.admin = await user('root', 'admin');
  });

  after(async () => {
    await h?.stop();
  });

  it("a clinic A clinician gets nothing of clinic B's patients from any route", async () => {
    const me = await api.a.get<{ clinics: string[] | null }>('/api/v1/auth/me');
    assert.deepEqual(me.body.clinics, ['clinic-a']);

    const patients = await api.a.get<Page<{ patientKey: string }>>('/api/v1/patients?limit=50');
    assert.deepEqual(patients.body.items.map((p) => p.patientKey).sort(), [alice, shared].sort());
    const all = await api.network.get<Page<{ patientKey: string }>>('/api/v1/patients?limit=50');
    assert.equal(all.body.items.length, 3, 'a network clinician sees every patient');

    // Every page of a cursor walk stays in scope.
    const walked: Result[] = [];
    let next: string | null = null;
    do {
      const page: { body: Page<Result> } = await api.a.get<Page<Result>>(
        `/api/v1/results?limit=1${next ? `&cursor=${encodeURIComponent(next)}` : ''}`,
      );
      walked.push(...page.body.items);
      next = page.body.next;
    } while (next);
    assert.equal(walked.length, 3, "alice's two results and the shared patient's study at clinic A");
    assert.ok(walked.every((r) => r.patientKey !== bob && r.clinicId === 'clinic-a'));
    assert.equal((await api.a.get<Page>(`/api/v1/results?patientKey=${bob}`)).body.items.length, 0);
    assert.equal(
      (await api.a.get<Page>('/api/v1/results?clinicId=clinic-b')).body.items.length,
      0,
      "not even the shared patient's: clinic B's device made that result",
    );

    for (const url of [
      `/api/v1/patients/${bob}/timeline`,
      `/api/v1/results/${bob1.messageId}`,
      `/api/v1/verdicts?patientKey=${bob}`,
    ]) {
      const r = await api.a.get<{ error: { code: string } }>(url);
      assert.equal(r.status, 404, url);
      assert.equal(r.body.error.code, 'VIGIL_API_NOT_FOUND');
    }
    const bobAlerts = await api.b.get<Page<{ alertKey: string; patientKey: string }>>('/api/v1/alerts?limit=50');
    const bobAlert = bobAlerts.body.items.find((x) => x.patientKey === bob);
    assert.ok(bobAlert, 'clinic B sees its growth alert');
    const aAlerts = await api.a.get<Page<{ patientKey: string; clinicId: string }>>('/api/v1/alerts?limit=50');
    assert.ok(aAlerts.body.items.length > 0);
    assert.ok(aAlerts.body.items.every((x) => x.patientKey !== bob && x.clinicId === 'clinic-a'));
    const ack = await api.a.post<{ error: { code: string } }>(`/api/v1/alerts/${bobAlert.alertKey}/acknowledge`);
    assert.equal(ack.status, 404);

    // The shared patient: each clinic sees her, built from its own studies only.
    type Timeline = {
      patient: { clinicIds: string[]; studies: number };
      studies: { clinicId: string }[];
      alerts: { clinicId: string }[];
    };
    const timeline = await api.a.get<Timeline>(`/api/v1/patients/${shared}/timeline`);
    assert.equal(timeline.status, 200);
    assert.deepEqual(
      timeline.body.studies.map((s) => s.clinicId),
      ['clinic-a'],
    );
    assert.deepEqual(timeline.body.patient.clinicIds, ['clinic-a']);
    assert.equal(timeline.body.patient.studies, 1);
    assert.ok(timeline.body.alerts.every((x) => x.clinicId === 'clinic-a'));
    const fromB = await api.b.get<Timeline>(`/api/v1/patients/${shared}/timeline`);
    assert.deepEqual(
      fromB.body.studies.map((s) => s.clinicId),
      ['clinic-b'],
    );
    const sharedB = results[5] as (typeof results)[0];
    assert.equal(
      (await api.a.get(`/api/v1/results/${sharedB.messageId}`)).status,
      404,
      "clinic B's result of the shared patient",
    );
    const whole = await api.network.get<Timeline>(`/api/v1/patients/${shared}/timeline`);
    assert.deepEqual(
      whole.body.studies.map((s) => s.clinicId),
      ['clinic-a', 'clinic-b'],
      'a network-wide clinician sees both',
    );

    // Fleet views follow the same scope; network-wide actions are refused.
    await h.hub.state.commitIngest(
      ingestBatch({
        statuses: [A, B].map((d) => ({
          schema: STATUS_SCHEMA,
          messageId: newMessageId(),
          ...d,
          state: 'online' as const,
          at: new Date().toISOString(),
          agentVersion: 'test',
          model: { name: 'vigil-demo', version: '0.5.0' },
        })),
      }),
    );
    const models = async (client: ApiClient) =>
      (await client.get<{ items: { deviceIds: string[] }[] }>('/api/v1/models')).body.items.flatMap((m) => m.deviceIds).sort();
    assert.deepEqual(await models(api.admin), ['edge-a1', 'edge-b1']);
    assert.deepEqual(
      await models(api.opsA),
      ['edge-a1'],
      "a scoped ops user sees only their clinic's devices on the models page",
    );
    const devices = await api.opsA.get<Page<{ deviceId: string }>>('/api/v1/devices');
    assert.deepEqual(
      devices.body.items.map((d) => d.deviceId),
      ['edge-a1'],
    );
    assert.equal((await api.opsA.get('/api/v1/devices/edge-b1')).status, 404);
    assert.equal((await api.opsA.get('/api/v1/telemetry?deviceId=edge-b1')).status, 404);
    const rollout = await api.opsA.post<{ error: { code: string } }>('/api/v1/rollouts', {
      model: { name: 'x', version: '1.0.0' },
    });
    assert.equal(rollout.status, 403);
    assert.equal(rollout.body.error.code, 'VIGIL_AUTH_FORBIDDEN');

    const denied = await api.admin.get<Page<{ actor: string; targetId: string }>>('/api/v1/audit?action=access.denied&limit=100');
    assert.ok(
      denied.body.items.some((e) => e.actor === 'dr.a' && e.targetId === bob),
      'refusals are audited',
    );
  });

  it('live events reach only the clinics that see the patient', async () => {
    const received: string[] = [];
    const open = async (client: ApiClient, into: string[]) => {
      const stream = await openEventStream(
        `${h.httpUrl}/api/v1/events`,
        { authorization: `Bearer ${client.auth.bearer}` },
        (e) => {
          if (e.startsWith('event: alert')) into.push(e);
        },
      );
      assert.equal(stream.status, 200);
      return { close: stream.close, pump: stream.done };
    };
    const streamA = await open(api.a, received);
    const alerts = await api.network.get<Page<{ alertKey: string; patientKey: string; status: string }>>(
      '/api/v1/alerts?limit=50&status=open',
    );
    const ofBob = alerts.body.items.find((x) => x.patientKey === bob);
    const ofAlice = alerts.body.items.find((x) => x.patientKey === alice);
    assert.ok(ofBob && ofAlice);
    // Bob's first, then Alice's: when Alice's arrives, Bob's would have arrived before it.
    assert.equal((await api.b.post(`/api/v1/alerts/${ofBob.alertKey}/acknowledge`)).status, 200);
    assert.equal((await api.a.post(`/api/v1/alerts/${ofAlice.alertKey}/acknowledge`)).status, 200);
    await waitFor("clinic A's alert event", () => received.some((e) => e.includes(ofAlice.alertKey)));
    streamA.close();
    await streamA.pump;
    assert.ok(
      received.some((e) => e.includes(ofAlice.alertKey)),
      "clinic A hears of its patient's alert",
    );
    assert.ok(!received.some((e) => e.includes(bob)), "and nothing of clinic B's patient");
  });

  it('verdicts are stored, amended with their history, audited, shown on the timeline, and checked', async () => {
    const subject = `finding:${alice1.messageId}:0`;
    const confirm = await api.a.post<{ verdictId: string; supersedes: string | null; clinicId: string; source: string }>(
      '/api/v1/verdicts',
      { kind: 'finding', resultId: alice1.messageId, findingIndex: 0, verdict: 'confirmed' },
    );
    assert.equal(confirm.status, 201, JSON.stringify(confirm.body));
    assert.deepEqual([confirm.body.supersedes, confirm.body.clinicId, confirm.body.source], [null, 'clinic-a', 'api']);
    const amend = await api.network.post<{ supersedes: string }>('/api/v1/verdicts', {
      kind: 'finding',
      resultId: alice1.messageId,
      findingIndex: 0,
      verdict: 'dismissed',
      reason: 'benign',
      note: 'cyst on ultrasound',
    });
    assert.equal(amend.status, 201);
    assert.equal(amend.body.supersedes, confirm.body.verdictId);
    const history = await api.a.get<{ items: { author: string; value: { verdict: string } }[] }>(
      `/api/v1/verdicts/history?subject=${subject}`,
    );
    assert.deepEqual(
      history.body.items.map((v) => [v.author, v.value.verdict]),
      [
        ['dr.a', 'confirmed'],
        ['dr.net', 'dismissed'],
      ],
    );
    const foreign = await api.b.get(`/api/v1/verdicts/history?subject=${subject}`);
    assert.equal(foreign.status, 404, 'out of scope');
    const unknownSubject = subject.replace(/[0-9a-f]{4}/, '0000');
    const unknown = await api.b.get(`/api/v1/verdicts/history?subject=${unknownSubject}`);
    assert.equal(unknown.status, 404);
    assert.equal(
      JSON.stringify(foreign.body).replace(subject, 'S'),
      JSON.stringify(unknown.body).replace(unknownSubject, 'S'),
      "another clinic's subject answers exactly as an unknown one",
    );

    const missed = await api.a.post<{ subject: string }>('/api/v1/verdicts', {
      kind: 'missed',
      resultId: alice2.messageId,
      x: 0.7,
      y: 0.6,
      diameterMm: 8,
    });
    assert.equal(missed.status, 201);
    const missedId = missed.body.subject.slice('missed:'.length);
    const withdrawn = await api.a.post<{ value: { withdrawn?: boolean } }>('/api/v1/verdicts', {
      kind: 'missed',
      resultId: alice2.messageId,
      x: 0.7,
      y: 0.6,
      diameterMm: 8,
      missedId,
      withdrawn: true,
    });
    assert.equal(withdrawn.status, 201);
    assert.equal(withdrawn.body.value.withdrawn, true);
    const assessed = await api.a.post('/api/v1/verdicts', {
      kind: 'assessment',
      patientKey: alice,
      studyKey: alice2.studyKey,
      birads: 4,
    });
    assert.equal(assessed.status, 201);

    const timeline = await api.a.get<{ verdicts: { subject: string; value: Record<string, unknown> }[] }>(
      `/api/v1/patients/${alice}/timeline`,
    );
    const current = new Map(timeline.body.verdicts.map((v) => [v.subject, v.value]));
    assert.deepEqual(current.get(subject), { verdict: 'dismissed', reason: 'benign', note: 'cyst on ultrasound' });
    assert.equal(current.get(missed.body.subject)?.withdrawn, true);
    assert.deepEqual(current.get(`assessment:${alice2.studyKey}`), { birads: 4 });

    const audit = await api.admin.get<Page<{ action: string; actor: string; targetId: string }>>(
      `/api/v1/audit?patientKey=${alice}&limit=100`,
    );
    const actions = audit.body.items.filter((e) => e.targetId === subject).map((e) => `${e.actor}:${e.action}`);
    assert.deepEqual(actions.sort(), ['dr.a:verdict.record', 'dr.net:verdict.amend']);

    const bad = [
      [{ kind: 'finding', resultId: alice1.messageId, findingIndex: 0, verdict: 'dismissed' }, 'VIGIL_VERDICT_INVALID'],
      [{ kind: 'finding', resultId: alice1.messageId, findingIndex: 3, verdict: 'confirmed' }, 'VIGIL_VERDICT_INVALID'],
      [{ kind: 'finding', resultId: bob1.messageId, findingIndex: 0, verdict: 'confirmed' }, 'VIGIL_VERDICT_INVALID'],
      [{ kind: 'assessment', patientKey: alice, studyKey: bob1.studyKey, birads: 2 }, 'VIGIL_VERDICT_INVALID'],
      [{ kind: 'assessment', patientKey: alice, studyKey: alice1.studyKey, birads: 9 }, 'VIGIL_API_INVALID_REQUEST'],
    ] as const;
    for (const [body, code] of bad) {
      const r = await api.a.post<{ error: { code: string } }>('/api/v1/verdicts', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.code, code, JSON.stringify(body));
    }
    assert.equal(
      (await api.opsA.post('/api/v1/verdicts', { kind: 'assessment', patientKey: alice, studyKey: alice1.studyKey, birads: 1 }))
        .status,
      403,
    );
  });

  it('imports an outcomes file whole or not at all, naming each bad line', async () => {
    const header = 'patient_key,study_key,outcome,laterality,outcome_date,birads';
    const csv = (lines: string[]) => `${[header, ...lines].join('\n')}\n`;
    const upload = (client: ApiClient, text: string) =>
      client.request<{ imported?: number; error?: { code: string; message: string } }>('POST', '/api/v1/outcomes/import', text, {
        headers: { 'content-type': 'text/csv' },
      });
    const good = `${alice},${alice2.studyKey},malignant,L,2024-08-01,5`;
    const before = (await api.a.get<{ items: unknown[] }>(`/api/v1/verdicts?patientKey=${alice}`)).body.items.length;
    const refused = await upload(
      api.a,
      csv([
        good,
        `${alice},${alice1.studyKey},maybe,,,`,
        `${bob},${bob1.studyKey},benign,,,`,
        `${alice},${alice1.studyKey},,,,2`,
      ]),
    );
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error?.code, 'VIGIL_IMPORT_INVALID');
    assert.match(refused.body.error?.message ?? '', /line 3: outcome must be one of/);
    assert.match(
      refused.body.error?.message ?? '',
      /line 4: patient .* has no study/,
      "clinic A cannot import onto clinic B's patient",
    );
    assert.equal(
      (await api.a.get<{ items: unknown[] }>(`/api/v1/verdicts?patientKey=${alice}`)).body.items.length,
      before,
      'nothing was imported',
    );
    const accepted = await upload(api.a, csv([good, `${alice},${alice1.studyKey},,,,2`]));
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.imported, 3, 'an outcome with a BI-RADS is two verdicts');
    const outcome = await api.a.get<{ items: { subject: string; source: string; value: { outcome?: string } }[] }>(
      `/api/v1/verdicts?patientKey=${alice}&studyKey=${alice2.studyKey}`,
    );
    const malignant = outcome.body.items.find((v) => v.subject === `outcome:${alice2.studyKey}:L`);
    assert.deepEqual([malignant?.source, malignant?.value.outcome], ['import', 'malignant']);
  });

  it('performance and its export follow the scope', async () => {
    const a = await api.a.get<{
      byClinic: { clinicId: string; ppv: { k: number; n: number }; sensitivity: { k: number; n: number } }[];
    }>('/api/v1/performance');
    assert.equal(a.status, 200);
    assert.deepEqual(
      a.body.byClinic.map((r) => r.clinicId),
      ['clinic-a'],
    );
    assert.deepEqual([a.body.byClinic[0]?.ppv.k, a.body.byClinic[0]?.ppv.n], [0, 1], 'the one judged finding was dismissed');
    assert.deepEqual(
      [a.body.byClinic[0]?.sensitivity.k, a.body.byClinic[0]?.sensitivity.n],
      [1, 1],
      'the malignant study was reported',
    );
    const b = await api.b.get<{ rows: unknown[] }>('/api/v1/performance');
    assert.equal(b.body.rows.length, 0, 'clinic B has no verdicts');
    const csv = await api.a.request<string>('GET', '/api/v1/performance.csv');
    assert.equal(csv.status, 200);
    assert.match(csv.headers.get('content-type') ?? '', /text\/csv/);
    const lines = (csv.body as string).trim().split('\n');
    assert.match(lines[0] ?? '', /^model_name,model_version,clinic_id,device_id,month,/);
    assert.ok(lines.slice(1).length > 0 && lines.slice(1).every((l) => l.split(',')[2] === 'clinic-a'));
    assert.equal(
      ((await api.b.request<string>('GET', '/api/v1/performance.csv')).body as string).trim().split('\n').length,
      1,
      'header only',
    );
  });

  it('a real change in performance raises one ops alert, seen by its clinic, acknowledged by ops', async () => {
    // Version 1.0.0 was mostly right at clinic A; 1.1.0 mostly wrong: 25 judged findings each.
    const judged = async (version: string, confirmed: number) => {
      for (let i = 0; i < 25; i++) {
        const r = {
          ...studyResult({
            ...A,
            patient: `perf-${version}-${i}`,
            studyDate: '2024-09-01',
            laterality: 'L',
            view: 'CC',
            score: 0.8,
            findings: finding(8),
          }),
          model: { name: 'vigil-demo', version },
        };
        r.messageId = `${r.messageId.slice(0, 40)}-${version.replace(/\./g, '')}`;
        r.createdAt = version === '1.0.0' ? '2024-09-01T09:00:00.000Z' : '2024-10-01T09:00:00.000Z';
        await h.hub.state.commitIngest({
          results: [r],
          telemetry: [],
          statuses: [],
          modelReports: [],
          deadLetters: [],
          receivedAt: new Date().toISOString(),
        });
        await h.hub.state.verdicts.append([
          {
            subject: `finding:${r.messageId}:0`,
            kind: 'finding',
            patientKey: r.patientKey,
            studyKey: r.studyKey,
            clinicId: r.clinicId,
            resultId: r.messageId,
            findingIndex: 0,
            value: i < confirmed ? { verdict: 'confirmed' } : { verdict: 'dismissed', reason: 'benign' },
            author: 'dr.a',
            source: 'api',
          },
        ]);
      }
    };
    await judged('1.0.0', 23);
    await judged('1.1.0', 8);
    const raised = await h.hub.performanceWatch.check();
    const ppv = raised.find((a) => a.alertKey.startsWith('performance:ppv:versions:vigil-demo:clinic-a:'));
    assert.ok(ppv, JSON.stringify(raised.map((a) => a.alertKey)));
    assert.equal(ppv.severity, 'warning');
    assert.match(ppv.summary, /PPV of findings fell from \d+\.\d % \(1\.0\.0, n=2\d\) to 32\.0 % \(1\.1\.0, n=25\) at clinic-a/);
    assert.deepEqual(await h.hub.performanceWatch.check(), [], 'each change is raised once');

    const seenByA = await api.a.get<{ items: { alertKey: string }[] }>('/api/v1/ops-alerts?open=true');
    assert.equal(seenByA.status, 200, JSON.stringify(seenByA.body));
    assert.ok(seenByA.body.items.some((x) => x.alertKey === ppv.alertKey));
    assert.equal((await api.b.get<{ items: unknown[] }>('/api/v1/ops-alerts')).body.items.length, 0, "not clinic B's");
    const key = encodeURIComponent(ppv.alertKey);
    assert.equal((await api.a.post(`/api/v1/ops-alerts/${key}/acknowledge`)).status, 403, 'clinicians read, ops acknowledge');
    const ack = await api.opsA.post<{ acknowledgedBy: string }>(`/api/v1/ops-alerts/${key}/acknowledge`);
    assert.equal(ack.status, 200);
    assert.equal(ack.body.acknowledgedBy, 'ops.a');
    assert.equal(
      (await api.a.get<{ items: { alertKey: string }[] }>('/api/v1/ops-alerts?open=true')).body.items.filter(
        (x) => x.alertKey === ppv.alertKey,
      ).length,
      0,
    );
  });
});
