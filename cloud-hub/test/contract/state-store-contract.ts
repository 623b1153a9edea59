// The state store's contract as a function any engine's adapter runs (as aedes's abstract-persistence
// is for its persistences): every query the API, ingest, follow-up, rollout controller and device
// registry use, with the same assertions. state-store-contract.test.ts runs it on SQLite and on a
// real PostgreSQL 15; a new engine runs it with its own `fresh` and `rawSql`.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type ModelDesiredMessage, type ModelReportedMessage, newMessageId } from '@vigil/shared';
import { statusMessage, telemetrySample } from '../../../scripts/harness/fleet-messages.js';
import { patientKeyOf, studyResult } from '../../../scripts/harness/followup-results.js';
import { ingestBatch } from '../../../scripts/harness/ingest-batch.js';
import { syntheticResult } from '../../../scripts/harness/result-factory.js';
import { waitFor } from '../../../scripts/harness/wait-for.js';
import type { AttributedCondition } from '../../src/followup/followup-types.js';
import type { RolloutDevice, RolloutRecord } from '../../src/rollout/rollout-store.js';
import type { StateStore } from '../../src/state/state-store.js';

export interface StateStoreContractOptions {
  /** A fresh, migrated, empty store on the engine. */
  fresh(): Promise<StateStore>;
  /** Runs one SQL statement on the store's own connection, behind its back (tamper checks). */
  rawSql(store: StateStore, sql: string): Promise<void>;
}

export const A = { clinicId: 'clinic-a', deviceId: 'edge-a1' } as const;
const B = { clinicId: 'clinic-b', deviceId: 'edge-b1' } as const;

function condition(patient: string, suffix: string, over: Partial<AttributedCondition> = {}): AttributedCondition {
  return {
    alertKey: `growth:${patientKeyOf(patient)}:${suffix}`,
    kind: 'growth',
    severity: 'warning',
    patientKey: patientKeyOf(patient),
    laterality: 'L',
    view: 'CC',
    studyKey: `study-${suffix}`,
    studyDate: '2024-03-01',
    trackId: `track-${suffix}`,
    reason: 'grew by 3 mm',
    figures: { growthMm: 3 },
    clinicId: 'clinic-a',
    deviceId: 'edge-a1',
    ...over,
  };
}

/** A desired-model message for one device (rollout tests). */
function desired(deviceId: string, version: string, issuedAt: string): ModelDesiredMessage {
  return {
    schema: 'vigil.model-desired/1',
    messageId: newMessageId(),
    clinicId: 'clinic-a',
    deviceId,
    issuedAt,
    rolloutId: 'r1',
    active: {
      name: 'vigil-demo',
      version,
      sha256: 'a'.repeat(64),
      sizeBytes: 10,
      url: 'https://hub/m',
      signature: 's',
      keyId: 'k1',
    },
  };
}

function summary(patient: string, clinicIds: string[], lastStudyDate: string, dueDate: string | null) {
  return {
    patientKey: patientKeyOf(patient),
    clinicId: clinicIds[0] as string,
    clinicIds,
    firstStudyDate: '2022-01-10',
    lastStudyDate,
    lastStudyKey: `study-${lastStudyDate}`,
    studies: 2,
    category: 3,
    dueDate,
  };
}

export function stateStoreContract(engine: string, o: StateStoreContractOptions): void {
  describe(`state store contract: ${engine}`, () => {
    it('devices: register, refuse a duplicate, look up, list in order, revoke once', async () => {
      const s = await o.fresh();
      const added = await s.addDevice({ ...B, passwordHash: 'h-b', tags: ['ward-2'] });
      await s.addDevice({ ...A, passwordHash: 'h-a', tags: [] });
      assert.equal(added.revokedAt, null);
      await assert.rejects(s.addDevice({ ...A, passwordHash: 'x', tags: [] }), { code: 'VIGIL_DEVICE_EXISTS' });
      assert.deepEqual(await s.getDevice('edge-b1'), added);
      assert.equal(await s.getDevice('nobody'), undefined);
      assert.deepEqual(
        (await s.listDevices()).map((d) => d.deviceId),
        ['edge-a1', 'edge-b1'],
      );
      assert.equal(await s.revokeDevice('edge-a1'), true);
      assert.equal(await s.revokeDevice('edge-a1'), false, 'a second revocation changes nothing');
      assert.ok((await s.getDevice('edge-a1'))?.revokedAt);
      await s.ping();
    });

    it('ingest is idempotent on the message id; device state only moves forward; dead letters keep an excerpt', async () => {
      const s = await o.fresh();
      const results = Array.from({ length: 30 }, (_, i) => syntheticResult(A, i));
      const first = await s.commitIngest(ingestBatch({ results: results.slice(0, 20) }));
      assert.deepEqual(first, { resultsInserted: 20, resultsDuplicate: 0 });
      const replay = await s.commitIngest(ingestBatch({ results }));
      assert.deepEqual(replay, { resultsInserted: 10, resultsDuplicate: 20 });
      assert.equal(await s.countResults(), 30);
      assert.deepEqual(await s.listResultIds(), results.map((r) => r.messageId).sort());
      const stored = await s.getResult(results[3]?.messageId as string);
      assert.deepEqual({ ...stored, receivedAt: undefined }, { ...results[3], receivedAt: undefined });
      assert.match(stored?.receivedAt ?? '', /^\d{4}-\d\d-\d\dT/);
      assert.equal(await s.getResult('missing'), undefined);

      const t0 = new Date('2026-11-01T10:00:00Z');
      const t1 = new Date('2026-11-01T10:05:00Z');
      const newer = telemetrySample(A, t1, 5);
      const older = telemetrySample(A, t0, 0);
      const reported: ModelReportedMessage = {
        schema: 'vigil.model-reported/1',
        messageId: newMessageId(),
        ...A,
        at: t1.toISOString(),
        state: 'active',
        model: { name: 'vigil-demo', version: '0.2.0' },
      };
      await s.commitIngest(
        ingestBatch({ telemetry: [newer], statuses: [statusMessage(A, 'online', t1)], modelReports: [reported] }),
      );
      const staleStatus = { ...statusMessage(A, 'offline', t0), agentVersion: '' };
      await s.commitIngest(ingestBatch({ telemetry: [older], statuses: [staleStatus], receivedAt: '2000-01-01T00:00:00.000Z' }));
      const laterStatus = { ...statusMessage(A, 'offline', new Date('2026-11-01T11:00:00Z')), agentVersion: '' };
      await s.commitIngest(ingestBatch({ statuses: [laterStatus] }));
      const [state] = await s.listDeviceStates();
      assert.equal(state?.deviceId, 'edge-a1');
      assert.equal(state?.status, 'offline', 'the later status wins');
      assert.equal(state?.statusAt, '2026-11-01T11:00:00.000Z');
      assert.equal(state?.agentVersion, '0.1.0', 'an empty agent version keeps the known one');
      assert.deepEqual(state?.model, { name: 'vigil-demo', version: '0.2.0' });
      assert.deepEqual(state?.lastTelemetry, newer, 'older telemetry does not overwrite newer');
      assert.deepEqual(state?.modelReported, reported);
      assert.ok(state?.lastSeenAt && state.lastSeenAt > '2000-01-01T00:00:00.000Z', 'last seen never moves back');

      const excerpt = Buffer.from([0, 1, 2, 255, 0x7b]);
      for (const code of ['VIGIL_MESSAGE_INVALID', 'VIGIL_TOPIC_INVALID']) {
        await s.commitIngest(
          ingestBatch({
            deadLetters: [
              {
                receivedAt: new Date().toISOString(),
                topic: 'vigil/v1/clinic-a/edge-a1/results',
                clientId: 'edge-a1',
                code,
                reason: 'bad',
                payloadBytes: 5,
                payloadSha256: 'f'.repeat(64),
                payloadExcerpt: excerpt,
              },
            ],
          }),
        );
      }
      const letters = await s.listDeadLetters(1);
      assert.equal(letters.length, 1);
      assert.equal(letters[0]?.code, 'VIGIL_TOPIC_INVALID', 'newest first');
      assert.deepEqual(Buffer.from(letters[0]?.payloadExcerpt ?? []), excerpt, 'binary excerpt survives');
    });

    it('queryResults: every filter, newest first, keyset pages that neither skip nor repeat', async () => {
      const s = await o.fresh();
      const all = [
        ...Array.from({ length: 25 }, (_, i) => syntheticResult(A, i)),
        ...Array.from({ length: 5 }, (_, i) => syntheticResult(B, i)),
        { ...syntheticResult(A, 99), shadow: true },
      ];
      await s.commitIngest(ingestBatch({ results: all }));
      const seen: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.queryResults({ limit: 7, ...(cursor ? { cursor } : {}) });
        seen.push(...page.items.map((r) => r.messageId));
        cursor = page.next ?? undefined;
      } while (cursor);
      const expected = all
        .filter((r) => !r.shadow)
        .sort((x, y) => (x.createdAt === y.createdAt ? (x.messageId < y.messageId ? 1 : -1) : x.createdAt < y.createdAt ? 1 : -1))
        .map((r) => r.messageId);
      assert.deepEqual(seen, expected);
      assert.equal((await s.queryResults({ limit: 100, includeShadow: true })).items.length, 31);
      assert.equal((await s.queryResults({ limit: 100, clinicId: 'clinic-b' })).items.length, 5);
      assert.equal((await s.queryResults({ limit: 100, deviceId: 'edge-a1' })).items.length, 25);
      const patient = all[0]?.patientKey as string;
      assert.equal(
        (await s.queryResults({ limit: 100, patientKey: patient })).items.length,
        4,
        'one patient: a study of four images',
      );
      const window = await s.queryResults({ limit: 100, from: all[3]?.createdAt, to: all[6]?.createdAt });
      assert.equal(window.items.length, 5, 'from inclusive, to exclusive: A 3–5 and B 3–4');
      const high = await s.queryResults({ limit: 100, minScore: 0.2 });
      assert.ok(high.items.every((r) => r.score >= 0.2));
      assert.equal(high.items.length, 5);
      await assert.rejects(s.queryResults({ limit: 5, cursor: 'not-a-cursor' }), { code: 'VIGIL_API_INVALID_REQUEST' });
    });

    it('modelResults selects a model version or its predecessors, by device, shadow and time', async () => {
      const s = await o.fresh();
      const v = (i: number, version: string, shadow = false) => ({
        ...syntheticResult(i < 6 ? A : B, i),
        model: { name: 'vigil-demo', version },
        messageId: `m-${version}-${i}-${shadow}`,
        ...(shadow ? { shadow: true } : {}),
      });
      await s.commitIngest(
        ingestBatch({
          results: [...[0, 1, 2, 3, 7].map((i) => v(i, '2.0.0')), ...[4, 5].map((i) => v(i, '1.0.0')), v(8, '2.0.0', true)],
        }),
      );
      const base = { modelName: 'vigil-demo', shadow: false, limit: 100 } as const;
      const candidate = await s.modelResults({ ...base, modelVersion: '2.0.0', deviceIds: ['edge-a1'] });
      assert.equal(candidate.length, 4);
      assert.deepEqual(candidate[0], { score: 0.03, totalMs: 23 }, 'newest first; latency is decode + preprocess + infer');
      assert.equal((await s.modelResults({ ...base, excludeVersion: '2.0.0', deviceIds: ['edge-a1', 'edge-b1'] })).length, 2);
      assert.equal((await s.modelResults({ ...base, modelVersion: '2.0.0', deviceIds: ['edge-b1'] })).length, 1);
      assert.equal((await s.modelResults({ ...base, shadow: true, deviceIds: ['edge-b1'] })).length, 1);
      assert.equal((await s.modelResults({ ...base, deviceIds: [] })).length, 0);
      const from = syntheticResult(A, 2).createdAt;
      const before = syntheticResult(A, 4).createdAt;
      assert.equal(
        (await s.modelResults({ ...base, deviceIds: ['edge-a1'], createdFrom: from, createdBefore: before })).length,
        2,
      );
      assert.equal((await s.modelResults({ ...base, deviceIds: ['edge-a1'], limit: 3 })).length, 3);
    });

    it('follow-up: observations, alerts opened, refreshed, kept as acknowledged, auto-resolved, counted', async () => {
      const s = await o.fresh();
      const f = s.followup;
      const base = { ...A, patient: 'alice', laterality: 'L', view: 'CC', score: 0.6 } as const;
      const finding = [{ x: 0.4, y: 0.3, diameterMm: 6, score: 0.6 }];
      await s.commitIngest(
        ingestBatch({
          results: [
            studyResult({ ...base, studyDate: '2024-03-01', findings: finding }),
            studyResult({ ...base, studyDate: '2022-01-10', findings: finding }),
            studyResult({ ...base, studyDate: '2023-01-10', findings: [], shadow: true }),
          ],
        }),
      );
      const obs = await f.observationsFor(patientKeyOf('alice'));
      assert.deepEqual(
        obs.map((o) => o.studyDate),
        ['2022-01-10', '2024-03-01'],
        'shadow results excluded, oldest first',
      );
      assert.equal(obs[0]?.imageWidthMm, 3328 * 0.07);
      assert.equal(obs[0]?.findings[0]?.diameterMm, 6);

      const [one] = await f.saveTimelines([
        {
          summary: summary('alice', ['clinic-a'], '2024-03-01', '2024-09-01'),
          conditions: [condition('alice', '1'), condition('alice', '2')],
        },
      ]);
      assert.equal(one?.opened.length, 2);
      assert.equal(one?.opened[0]?.status, 'open');
      assert.equal((await f.getPatient(patientKeyOf('alice')))?.openAlerts, 2);
      const key1 = condition('alice', '1').alertKey;
      const key2 = condition('alice', '2').alertKey;
      await f.transitionAlert(key2, 'acknowledged', 'dr.lind', 'seen');
      // New evidence: alert 1's wording changes (refreshed), alert 2 is acknowledged (kept as the
      // clinician saw it), a third opens; then alert 1 no longer holds (auto-resolved).
      const [two] = await f.saveTimelines([
        {
          summary: summary('alice', ['clinic-a', 'clinic-b'], '2024-03-01', '2024-09-01'),
          conditions: [
            condition('alice', '1', { reason: 'grew by 4 mm', figures: { growthMm: 4 }, severity: 'critical' }),
            condition('alice', '2', { reason: 'changed' }),
            condition('alice', '3', { clinicId: 'clinic-b', deviceId: 'edge-b1' }),
          ],
        },
      ]);
      assert.deepEqual(
        two?.updated.map((a) => [a.alertKey, a.severity, a.reason, a.figures]),
        [[key1, 'critical', 'grew by 4 mm', { growthMm: 4 }]],
      );
      assert.equal((await f.getAlert(key2))?.reason, 'grew by 3 mm', 'an acknowledged alert keeps its wording');
      assert.deepEqual(
        two?.opened.map((a) => [a.clinicId, a.deviceId]),
        [['clinic-b', 'edge-b1']],
      );
      const [three] = await f.saveTimelines([
        {
          summary: summary('alice', ['clinic-a', 'clinic-b'], '2024-03-01', '2024-09-01'),
          conditions: [condition('alice', '3')],
        },
      ]);
      assert.deepEqual(three?.autoResolved.map((a) => a.alertKey).sort(), [key1, key2].sort());
      const resolved = await f.getAlert(key1);
      assert.equal(resolved?.status, 'resolved');
      assert.equal(resolved?.resolvedBy, 'system');
      const alice = await f.getPatient(patientKeyOf('alice'));
      assert.equal(alice?.openAlerts, 1);
      assert.deepEqual(alice?.clinicIds, ['clinic-a', 'clinic-b']);
      assert.equal(await f.getPatient('nobody'), undefined);
      assert.equal(await f.getAlert('nothing'), undefined);
    });

    it("follow-up: many patients read and saved in one call, each outcome its own patient's, in the caller's order", async () => {
      const s = await o.fresh();
      const f = s.followup;
      const result = (patient: string, i: number, studyDate: string) => ({
        ...syntheticResult(A, i),
        patientKey: patientKeyOf(patient),
        studyDate,
      });
      await s.commitIngest(
        ingestBatch({
          results: [result('zoe', 1, '2024-05-01'), result('amy', 2, '2024-02-01'), result('zoe', 3, '2023-05-01')],
        }),
      );
      const observations = await f.observationsOf([patientKeyOf('zoe'), patientKeyOf('amy'), patientKeyOf('nobody')]);
      assert.deepEqual(
        observations.get(patientKeyOf('zoe'))?.map((x) => x.studyDate),
        ['2023-05-01', '2024-05-01'],
        "each patient's own results, oldest first",
      );
      assert.equal(observations.get(patientKeyOf('amy'))?.length, 1);
      assert.equal(observations.has(patientKeyOf('nobody')), false);
      assert.equal((await f.observationsOf([])).size, 0);

      // Out of key order, and one patient twice (saved in turn: the later entry is what stays).
      const first = await f.saveTimelines([
        { summary: summary('zoe', ['clinic-a'], '2024-05-01', null), conditions: [condition('zoe', '1'), condition('zoe', '2')] },
        {
          summary: summary('amy', ['clinic-b'], '2024-02-01', null),
          conditions: [condition('amy', '1', { clinicId: 'clinic-b' })],
        },
        { summary: summary('bob', ['clinic-a'], '2024-01-01', null), conditions: [] },
        {
          summary: summary('zoe', ['clinic-a', 'clinic-b'], '2024-05-01', null),
          conditions: [condition('zoe', '2', { severity: 'critical' })],
        },
      ]);
      assert.deepEqual(
        first.map((x) => [
          x.opened.map((a) => a.alertKey),
          x.updated.map((a) => a.severity),
          x.autoResolved.map((a) => a.alertKey),
        ]),
        [
          [[condition('zoe', '1').alertKey, condition('zoe', '2').alertKey], [], []],
          [[condition('amy', '1').alertKey], [], []],
          [[], [], []],
          [[], ['critical'], [condition('zoe', '1').alertKey]],
        ],
      );
      const patients = await f.patientsOf([
        patientKeyOf('zoe'),
        patientKeyOf('amy'),
        patientKeyOf('bob'),
        patientKeyOf('nobody'),
      ]);
      assert.deepEqual(patients.get(patientKeyOf('zoe'))?.clinicIds, ['clinic-a', 'clinic-b']);
      assert.deepEqual(
        [...['zoe', 'amy', 'bob']].map((p) => patients.get(patientKeyOf(p))?.openAlerts),
        [1, 1, 0],
      );
      assert.equal(patients.has(patientKeyOf('nobody')), false);
      assert.equal(
        (await f.listPatients({ limit: 10, clinicId: 'clinic-b' })).items.length,
        2,
        'zoe and amy filed under clinic-b',
      );

      // Next save: amy's alert no longer holds, zoe's is unchanged, bob gains one.
      const second = await f.saveTimelines([
        { summary: summary('bob', ['clinic-a'], '2024-06-01', null), conditions: [condition('bob', '1')] },
        { summary: summary('amy', ['clinic-b'], '2024-02-01', null), conditions: [] },
        {
          summary: summary('zoe', ['clinic-a', 'clinic-b'], '2024-05-01', null),
          conditions: [condition('zoe', '2', { severity: 'critical' })],
        },
      ]);
      assert.deepEqual(
        second.map((x) => [x.opened.length, x.updated.length, x.autoResolved.map((a) => a.alertKey)]),
        [
          [1, 0, []],
          [0, 0, [condition('amy', '1').alertKey]],
          [0, 0, []],
        ],
      );
      assert.equal((await f.getPatient(patientKeyOf('amy')))?.openAlerts, 0);
      assert.equal((await f.getPatient(patientKeyOf('bob')))?.lastStudyDate, '2024-06-01');
    });

    it('follow-up: alert transitions refuse the impossible; patients and alerts page and filter', async () => {
      const s = await o.fresh();
      const f = s.followup;
      const entries = ['p1', 'p2', 'p3', 'p4', 'p5'].map((p, i) => ({
        summary: summary(p, i % 2 ? ['clinic-a', 'clinic-b'] : ['clinic-a'], `2024-0${i + 1}-01`, `2025-0${i + 1}-01`),
        conditions: [condition(p, 'x', { severity: i === 0 ? 'critical' : 'warning' })],
      }));
      const outcomes = await f.saveTimelines(entries);
      assert.equal(outcomes.length, 5, 'one outcome per entry');
      const key = condition('p1', 'x').alertKey;
      await assert.rejects(f.transitionAlert('missing', 'acknowledged', 'dr'), { code: 'VIGIL_API_NOT_FOUND' });
      const acked = await f.transitionAlert(key, 'acknowledged', 'dr.lind', 'will call');
      assert.deepEqual([acked.status, acked.acknowledgedBy, acked.note], ['acknowledged', 'dr.lind', 'will call']);
      await assert.rejects(f.transitionAlert(key, 'acknowledged', 'dr'), { code: 'VIGIL_ALERT_TRANSITION' });
      const done = await f.transitionAlert(key, 'resolved', 'dr.lind');
      assert.deepEqual([done.status, done.resolvedBy, done.note], ['resolved', 'dr.lind', 'will call']);
      await assert.rejects(f.transitionAlert(key, 'resolved', 'dr'), { code: 'VIGIL_ALERT_TRANSITION' });
      assert.equal((await f.getPatient(patientKeyOf('p1')))?.openAlerts, 0);

      const names: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await f.listPatients({ limit: 2, ...(cursor ? { cursor } : {}) });
        names.push(...page.items.map((p) => p.lastStudyDate));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(names, ['2024-05-01', '2024-04-01', '2024-03-01', '2024-02-01', '2024-01-01']);
      assert.equal((await f.listPatients({ limit: 10, clinicId: 'clinic-b' })).items.length, 2, 'by any clinic of the timeline');
      assert.equal((await f.listPatients({ limit: 10, dueBefore: '2025-03-01' })).items.length, 2);
      assert.deepEqual(await f.patientsNewlyOverdue('2025-02-15', 10), [patientKeyOf('p1'), patientKeyOf('p2')]);
      const overdue = condition('p1', 'o', { kind: 'overdue', alertKey: `overdue:${patientKeyOf('p1')}:study-2024-01-01` });
      await f.saveTimelines([{ summary: entries[0]?.summary as never, conditions: [overdue] }]);
      assert.deepEqual(await f.patientsNewlyOverdue('2025-02-15', 10), [patientKeyOf('p2')], 'an overdue alert exists for p1');

      const keys: string[] = [];
      cursor = undefined;
      do {
        const page = await f.listAlerts({ limit: 2, ...(cursor ? { cursor } : {}) });
        keys.push(...page.items.map((a) => a.alertKey));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.equal(keys.length, 6);
      assert.equal(new Set(keys).size, 6);
      assert.equal((await f.listAlerts({ limit: 10, status: 'open' })).items.length, 5);
      assert.equal((await f.listAlerts({ limit: 10, kind: 'overdue' })).items.length, 1);
      assert.equal((await f.listAlerts({ limit: 10, severity: 'critical' })).items.length, 1);
      assert.equal((await f.listAlerts({ limit: 10, patientKey: patientKeyOf('p2') })).items.length, 1);
      assert.equal((await f.listAlerts({ limit: 10, clinicId: 'clinic-b' })).items.length, 0);
    });

    it('clinic scope: users keep their clinics; results, patients and alerts answer only within a scope', async () => {
      const s = await o.fresh();
      const scoped = await s.users.createUser({
        username: 'dr.a',
        displayName: 'Dr A',
        role: 'clinician',
        passwordHash: 'ph',
        clinics: ['clinic-a'],
      });
      assert.deepEqual(scoped.clinics, ['clinic-a']);
      assert.equal(
        (await s.users.createUser({ username: 'net', displayName: 'N', role: 'ops', passwordHash: 'p' })).clinics,
        null,
      );
      await s.users.updateUser('net', { clinics: [] });
      assert.deepEqual((await s.users.getUser('net'))?.clinics, [], 'an empty assignment is kept, not read as the network');
      await s.users.updateUser('net', { clinics: null });
      assert.equal((await s.users.getUser('net'))?.clinics, null);

      // p-shared was seen at A then B; p-b only at B; p-late's result is not filed under a patient yet.
      const result = (address: typeof A | typeof B, patient: string, i: number) => ({
        ...syntheticResult(address, i),
        patientKey: patientKeyOf(patient),
      });
      await s.commitIngest(
        ingestBatch({
          results: [result(A, 'p-shared', 1), result(B, 'p-shared', 2), result(B, 'p-b', 3), result(A, 'p-late', 4)],
        }),
      );
      await s.followup.saveTimelines([
        { summary: summary('p-shared', ['clinic-a', 'clinic-b'], '2024-02-01', null), conditions: [condition('p-shared', 's')] },
        {
          summary: summary('p-b', ['clinic-b'], '2024-03-01', null),
          conditions: [condition('p-b', 'b', { clinicId: 'clinic-b' })],
        },
      ]);
      const patients = async (clinicScope: string[]) =>
        (await s.followup.listPatients({ limit: 10, clinicScope })).items.map((p) => p.patientKey).sort();
      assert.deepEqual(await patients(['clinic-a']), [patientKeyOf('p-shared')]);
      assert.deepEqual(await patients(['clinic-b']), [patientKeyOf('p-b'), patientKeyOf('p-shared')].sort());
      assert.deepEqual(await patients([]), [], 'no clinic: nothing');
      const alerts = async (clinicScope: string[]) =>
        (await s.followup.listAlerts({ limit: 10, clinicScope })).items.map((a) => a.patientKey).sort();
      assert.deepEqual(await alerts(['clinic-a']), [patientKeyOf('p-shared')]);
      assert.deepEqual(await alerts(['clinic-a', 'clinic-b']), [patientKeyOf('p-b'), patientKeyOf('p-shared')].sort());
      const results = async (clinicScope: string[]) =>
        (await s.queryResults({ limit: 10, clinicScope })).items.map((r) => `${r.clinicId}/${r.patientKey}`).sort();
      assert.deepEqual(
        await results(['clinic-a']),
        [`clinic-a/${patientKeyOf('p-late')}`, `clinic-a/${patientKeyOf('p-shared')}`].sort(),
        "clinic A sees its own results only: not the shared patient's study at B (a record is judged by its own clinic)",
      );
      assert.deepEqual(await results([]), []);
      // The scope holds on every page of a cursor walk.
      const walked: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await s.queryResults({ limit: 1, clinicScope: ['clinic-b'], ...(cursor ? { cursor } : {}) });
        walked.push(...page.items.map((r) => r.patientKey));
        cursor = page.next ?? undefined;
      } while (cursor);
      assert.deepEqual(walked.sort(), [patientKeyOf('p-b'), patientKeyOf('p-shared')].sort(), "clinic B's two results");
    });

    it('verdicts: append-only with history, the current one per subject, review facts within a scope', async () => {
      const s = await o.fresh();
      const ra = { ...syntheticResult(A, 0), findings: [{ x: 0.5, y: 0.5, diameterMm: 8, areaMm2: 50, score: 0.8 }] };
      const rb = { ...syntheticResult(B, 0), findings: [] };
      const shadow = { ...ra, messageId: `${ra.messageId}x`, shadow: true, model: { name: 'vigil-demo', version: '2.0.0' } };
      await s.commitIngest(ingestBatch({ results: [ra, rb, shadow] }));
      const base = { author: 'dr.a', source: 'dashboard' as const, resultId: null, findingIndex: null };
      const judged = {
        ...base,
        subject: `finding:${ra.messageId}:0`,
        kind: 'finding' as const,
        patientKey: ra.patientKey,
        studyKey: ra.studyKey,
        clinicId: 'clinic-a',
        resultId: ra.messageId,
        findingIndex: 0,
        value: { verdict: 'confirmed' as const },
      };
      const [first] = await s.verdicts.append([judged]);
      assert.equal(first?.supersedes, null);
      const [amended, other] = await s.verdicts.append([
        { ...judged, value: { verdict: 'dismissed', reason: 'artefact' } },
        {
          ...base,
          subject: `assessment:${rb.studyKey}`,
          kind: 'assessment',
          patientKey: rb.patientKey,
          studyKey: rb.studyKey,
          clinicId: 'clinic-b',
          value: { birads: 1 },
        },
      ]);
      assert.equal(amended?.supersedes, first?.verdictId, 'an amendment names the verdict it replaces');
      assert.equal(other?.supersedes, null);
      // Amendments of one subject in one append, and appended at once (a pool's connections on
      // PostgreSQL): every verdict supersedes exactly the one before it, so the chain has no fork.
      // (A study of its own, so the figures checked below are unchanged.)
      const subject = 'assessment:study-chain';
      const assessed = {
        ...base,
        subject,
        kind: 'assessment' as const,
        patientKey: 'patient-chain',
        studyKey: 'study-chain',
        clinicId: 'clinic-c',
      };
      const [b1, b2] = await s.verdicts.append([
        { ...assessed, value: { birads: 1 } },
        { ...assessed, value: { birads: 2 } },
      ]);
      assert.equal(b2?.supersedes, b1?.verdictId, 'the second of one append supersedes the first');
      await Promise.all([3, 4, 5, 6].map((birads) => s.verdicts.append([{ ...assessed, value: { birads } }])));
      const chain = await s.verdicts.history(subject);
      assert.equal(chain.length, 6);
      for (const [k, v] of chain.entries())
        assert.equal(v.supersedes, k === 0 ? null : chain[k - 1]?.verdictId, `verdict ${k} of the chain`);
      assert.deepEqual(
        (await s.verdicts.history(judged.subject)).map((v) => v.value),
        [{ verdict: 'confirmed' }, { verdict: 'dismissed', reason: 'artefact' }],
      );
      const current = await s.verdicts.current({ patientKey: ra.patientKey });
      assert.deepEqual(
        current.map((v) => [v.subject, v.verdictId]),
        [[judged.subject, amended?.verdictId]],
      );
      assert.deepEqual(
        (await s.verdicts.current({ patientKey: rb.patientKey, clinicScope: ['clinic-a'] })).length,
        0,
        'out of scope',
      );
      assert.equal(other?.kind, 'assessment');

      const facts = await s.verdicts.reviewFacts({ clinicScope: ['clinic-a'] });
      assert.deepEqual(
        facts.verdicts.map((v) => v.verdictId),
        [amended?.verdictId],
      );
      assert.deepEqual(
        facts.results.map((r) => r.messageId).sort(),
        [ra.messageId, shadow.messageId].sort(),
        'every result of a judged study, shadow ones included',
      );
      assert.equal((await s.verdicts.reviewFacts({})).results.length, 3);
      assert.equal((await s.verdicts.reviewFacts({ from: '2030-01-01T00:00:00Z' })).results.length, 0);

      // Append-only: the engine itself refuses to change or erase a verdict.
      const raw = (sql: string) => o.rawSql(s, sql);
      await assert.rejects(async () => raw("UPDATE verdicts SET author = 'someone else'"), /append-only/);
      await assert.rejects(async () => raw('DELETE FROM verdicts'), /append-only/);
      assert.equal((await s.verdicts.history(judged.subject)).length, 2);
    });

    it('device PKI: an enrolment token is used once (of many racing, exactly one wins), expired and unknown ones say so; certificates listed and revoked', async () => {
      const p = (await o.fresh()).pki;
      const token = (hash: string, expiresAt: string) => ({
        tokenHash: hash,
        clinicId: 'clinic-a',
        deviceId: 'edge-a1',
        createdBy: 'it.admin',
        createdAt: '2026-12-01T00:00:00.000Z',
        expiresAt,
      });
      await p.addEnrolmentToken(token('a'.repeat(64), '2026-12-31T00:00:00.000Z'));
      await p.addEnrolmentToken(token('b'.repeat(64), '2026-12-02T00:00:00.000Z'));
      const now = '2026-12-07T00:00:00.000Z';
      const racing = await Promise.all(Array.from({ length: 6 }, () => p.useEnrolmentToken('a'.repeat(64), now)));
      assert.equal(racing.filter((u) => u.ok).length, 1, 'one use wins');
      const won = racing.find((u) => u.ok);
      assert.equal(won?.token?.usedAt, now);
      assert.deepEqual(
        racing.filter((u) => !u.ok).map((u) => (u.ok ? '' : u.reason)),
        ['used', 'used', 'used', 'used', 'used'],
      );
      const expired = await p.useEnrolmentToken('b'.repeat(64), now);
      assert.deepEqual([expired.ok, expired.ok ? '' : expired.reason, expired.token?.usedAt], [false, 'expired', null]);
      const unknown = await p.useEnrolmentToken('c'.repeat(64), now);
      assert.deepEqual([unknown.ok, unknown.ok ? '' : unknown.reason, unknown.token], [false, 'unknown', undefined]);

      const cert = (serial: string, issuedAt: string) => ({
        serial,
        deviceId: 'edge-a1',
        clinicId: 'clinic-a',
        fingerprint: serial.repeat(8),
        notBefore: issuedAt,
        notAfter: '2027-12-01T00:00:00.000Z',
        issuedAt,
      });
      await p.addCertificate(cert('02', '2026-12-02T00:00:00.000Z'));
      await p.addCertificate(cert('01', '2026-12-01T00:00:00.000Z'));
      assert.deepEqual(
        (await p.listCertificates('edge-a1')).map((c) => c.serial),
        ['01', '02'],
      );
      assert.equal(await p.revokeCertificates('edge-a1', now, '2026-12-02T00:00:00.000Z'), 1, 'only those issued before');
      assert.equal((await p.getCertificate('01'))?.revokedAt, now);
      assert.equal((await p.getCertificate('02'))?.revokedAt, null);
      assert.equal(await p.revokeCertificates('edge-a1', now), 1);
      assert.equal(await p.revokeCertificates('edge-a1', now), 0, 'revoked once');
      assert.deepEqual(await p.listCertificates('edge-zz'), []);
    });

    it('ops alerts: raised once per key, listed by scope and state, acknowledged once', async () => {
      const s = await o.fresh();
      const alert = (key: string, clinicId: string | null) => ({
        alertKey: key,
        kind: 'performance-change' as const,
        severity: 'warning' as const,
        clinicId,
        summary: `summary ${key}`,
        details: { metric: 'ppv' },
      });
      const first = await s.opsAlerts.raise([alert('k1', 'clinic-a'), alert('k2', null)]);
      assert.deepEqual(
        first.map((a) => a.alertKey),
        ['k1', 'k2'],
      );
      assert.deepEqual(
        (await s.opsAlerts.raise([alert('k1', 'clinic-a'), alert('k3', 'clinic-b')])).map((a) => a.alertKey),
        ['k3'],
      );
      assert.equal((await s.opsAlerts.list({ limit: 10 })).length, 3);
      assert.deepEqual(
        (await s.opsAlerts.list({ limit: 10, clinicScope: ['clinic-a'] })).map((a) => a.alertKey),
        ['k1'],
      );
      const acked = await s.opsAlerts.acknowledge('k1', 'ops1');
      assert.equal(acked.acknowledgedBy, 'ops1');
      assert.equal((await s.opsAlerts.acknowledge('k1', 'ops2')).acknowledgedBy, 'ops1', 'the first acknowledgement stays');
      assert.deepEqual((await s.opsAlerts.list({ limit: 10, open: true })).map((a) => a.alertKey).sort(), ['k2', 'k3']);
      assert.deepEqual((await s.opsAlerts.get('k2'))?.details, { metric: 'ppv' });
      await assert.rejects(s.opsAlerts.acknowledge('nope', 'ops1'), { code: 'VIGIL_API_NOT_FOUND' });
    });

    it('users: accounts, one-time TOTP steps and recovery codes, sessions with sweep, tokens', async () => {
      const u = (await o.fresh()).users;
      const created = await u.createUser({ username: 'dr.lind', displayName: 'Dr Lind', role: 'clinician', passwordHash: 'ph' });
      assert.deepEqual([created.totpLastStep, created.failedLogins, created.totpSecret], [0, 0, null]);
      await u.createUser({ username: 'admin', displayName: 'Admin', role: 'admin', passwordHash: 'ph2' });
      await assert.rejects(u.createUser({ username: 'admin', displayName: 'x', role: 'ops', passwordHash: 'x' }), {
        code: 'VIGIL_USER_EXISTS',
      });
      assert.deepEqual(
        (await u.listUsers()).map((x) => x.username),
        ['admin', 'dr.lind'],
      );
      await u.updateUser('dr.lind', {
        totpSecret: 'SECRET',
        failedLogins: 3,
        lockedUntil: '2026-01-01T00:00:00.000Z',
        role: 'ops',
      });
      const updated = await u.getUser('dr.lind');
      assert.deepEqual(
        [updated?.totpSecret, updated?.failedLogins, updated?.lockedUntil, updated?.role],
        ['SECRET', 3, '2026-01-01T00:00:00.000Z', 'ops'],
      );
      await u.updateUser('dr.lind', { lockedUntil: null });
      assert.equal((await u.getUser('dr.lind'))?.lockedUntil, null);
      await assert.rejects(u.updateUser('ghost', { failedLogins: 1 }), { code: 'VIGIL_USER_UNKNOWN' });
      assert.equal(await u.getUser('ghost'), undefined);
      assert.equal(await u.claimTotpStep('dr.lind', 100), true);
      assert.equal(await u.claimTotpStep('dr.lind', 100), false, 'a step is accepted once');
      assert.equal(await u.claimTotpStep('dr.lind', 99), false, 'never an older one');
      assert.equal((await u.getUser('dr.lind'))?.totpLastStep, 100);
      await u.setRecoveryCodes('dr.lind', ['c1', 'c2']);
      assert.equal(await u.useRecoveryCode('dr.lind', 'c1'), true);
      assert.equal(await u.useRecoveryCode('dr.lind', 'c1'), false);
      await u.setRecoveryCodes('dr.lind', ['c3']);
      assert.equal(await u.useRecoveryCode('dr.lind', 'c2'), false, 'new codes replace the old');
      assert.equal(await u.useRecoveryCode('dr.lind', 'c3'), true);

      const session = (hash: string, createdAt: string, expiresAt: string) => ({
        sessionHash: hash,
        username: 'dr.lind',
        stage: 'enrol' as const,
        csrfToken: `csrf-${hash}`,
        createdAt,
        expiresAt,
        lastSeenAt: createdAt,
      });
      await u.createSession(session('old', '2026-01-01T00:00:00.000Z', '2026-01-01T12:00:00.000Z'));
      await u.createSession(session('s1', '2026-02-01T00:00:00.000Z', '2026-02-01T12:00:00.000Z'));
      assert.equal(await u.getSession('old'), undefined, 'expired sessions are swept when one is made');
      await u.updateSession('s1', { stage: 'full', lastSeenAt: '2026-02-01T01:00:00.000Z' });
      assert.deepEqual(await u.getSession('s1'), {
        ...session('s1', '2026-02-01T00:00:00.000Z', '2026-02-01T12:00:00.000Z'),
        stage: 'full',
        lastSeenAt: '2026-02-01T01:00:00.000Z',
      });
      await u.createSession(session('s2', '2026-02-01T00:30:00.000Z', '2026-02-01T12:00:00.000Z'));
      await u.deleteSession('s1');
      assert.equal(await u.getSession('s1'), undefined);
      await u.deleteSessionsOf('dr.lind');
      assert.equal(await u.getSession('s2'), undefined);

      await u.createToken({
        tokenId: 't1',
        tokenHash: 'th1',
        username: 'dr.lind',
        name: 'pacs',
        createdAt: '2026-01-01T00:00:00.000Z',
        expiresAt: null,
      });
      await u.createToken({
        tokenId: 't2',
        tokenHash: 'th2',
        username: 'admin',
        name: 'ci',
        createdAt: '2026-01-02T00:00:00.000Z',
        expiresAt: '2027-01-01T00:00:00.000Z',
      });
      assert.deepEqual(
        (await u.listTokens()).map((t) => t.tokenId),
        ['t1', 't2'],
      );
      assert.deepEqual(
        (await u.listTokens('admin')).map((t) => t.tokenId),
        ['t2'],
      );
      await u.touchToken('t1', '2026-03-01T00:00:00.000Z');
      assert.equal((await u.getToken('t1'))?.lastUsedAt, '2026-03-01T00:00:00.000Z');
      assert.equal(await u.revokeToken('t1'), true);
      assert.equal(await u.revokeToken('t1'), false);
      assert.ok((await u.getToken('t1'))?.revokedAt);
      assert.equal(await u.getToken('nope'), undefined);
    });

    it('leases: one holder at a time, renewal keeps the epoch, a takeover increments it and fences the old holder out', async () => {
      const s = await o.fresh();
      const l = s.leases;
      const a = await l.tryAcquire('rollouts', 'replica-a', 60_000);
      assert.deepEqual([a?.holder, a?.epoch], ['replica-a', 1]);
      assert.equal(await l.tryAcquire('rollouts', 'replica-b', 60_000), null, 'held by another');
      const renewed = await l.tryAcquire('rollouts', 'replica-a', 60_000);
      assert.equal(renewed?.epoch, 1, 'renewal keeps the epoch');
      assert.equal((await l.current('rollouts'))?.holder, 'replica-a');
      assert.ok((await l.tryAcquire('sweeps', 'replica-b', 60_000)) !== null, 'leases are independent');

      // A fenced write passes while the fence is current…
      const fenced = s.rollouts.withFence({ name: 'rollouts', holder: 'replica-a', epoch: 1 });
      await fenced.setDesired(desired('edge-a1', '1.0.0', new Date().toISOString()));
      // …a short lease runs out, replica-b takes over (epoch 2), and replica-a's writes are refused.
      await l.tryAcquire('rollouts', 'replica-a', 200);
      const b = await waitFor('the lease expires and replica-b takes it', () => l.tryAcquire('rollouts', 'replica-b', 60_000));
      assert.deepEqual([b.holder, b.epoch], ['replica-b', 2]);
      await assert.rejects(fenced.setDesired(desired('edge-a1', '2.0.0', new Date().toISOString())), {
        code: 'VIGIL_LEASE_LOST',
      });
      await assert.rejects(fenced.updateRollout('r-none', { state: 'paused' }), { code: 'VIGIL_LEASE_LOST' });
      assert.equal((await s.rollouts.listDesired())[0]?.active.version, '1.0.0', 'the stale write changed nothing');
      await s.rollouts
        .withFence({ name: 'rollouts', holder: 'replica-b', epoch: 2 })
        .setDesired(desired('edge-a1', '2.0.0', new Date().toISOString()));
      assert.equal((await s.rollouts.listDesired())[0]?.active.version, '2.0.0');
      // A clean stop hands the lease over at once.
      await l.release('rollouts', 'replica-b');
      assert.equal(await l.current('rollouts'), undefined);
      assert.equal((await l.tryAcquire('rollouts', 'replica-a', 60_000))?.epoch, 3);
    });

    it('rollout commands: taken once, by a fenced holder only, withdrawn only while nobody took them', async () => {
      const s = await o.fresh();
      const r = s.rollouts;
      const at = (k: number) => `2026-12-01T10:00:0${k}.000Z`;
      await r.requestCommand({
        commandId: 'c1',
        action: 'pause',
        input: { rolloutId: 'r1', actor: 'ops1' },
        requestedBy: 'ops1',
        requestedAt: at(1),
      });
      await r.requestCommand({
        commandId: 'c2',
        action: 'start',
        input: { model: { name: 'm', version: '2' }, actor: 'ops2' },
        requestedBy: 'ops2',
        requestedAt: at(2),
      });
      assert.deepEqual(
        (await r.pendingCommands(10)).map((c) => [c.commandId, c.action, c.requestedBy]),
        [
          ['c1', 'pause', 'ops1'],
          ['c2', 'start', 'ops2'],
        ],
      );
      assert.deepEqual((await r.getCommand('c2'))?.input, { model: { name: 'm', version: '2' }, actor: 'ops2' });

      const grant = await s.leases.tryAcquire('rollouts', 'replica-a', 60_000);
      const holder = r.withFence({ name: 'rollouts', holder: 'replica-a', epoch: grant?.epoch ?? 0 });
      const stale = r.withFence({ name: 'rollouts', holder: 'replica-b', epoch: 7 });
      await assert.rejects(stale.claimCommand('c1', 'replica-b'), { code: 'VIGIL_LEASE_LOST' });
      assert.equal(await holder.claimCommand('c1', 'replica-a'), true);
      assert.equal(await holder.claimCommand('c1', 'replica-a'), false, 'taken once');
      assert.equal(
        await r.withdrawCommand('c1', { ok: false, code: 'VIGIL_ROLLOUT_BUSY', message: 'late' }),
        false,
        'taken: too late to withdraw',
      );
      assert.deepEqual(
        (await r.pendingCommands(10)).map((c) => c.commandId),
        ['c2'],
      );
      await r.finishCommand('c1', { ok: true, value: { state: 'paused' } });
      const done = await r.getCommand('c1');
      assert.equal(done?.claimedBy, 'replica-a');
      assert.ok(done?.doneAt);
      assert.deepEqual(done?.outcome, { ok: true, value: { state: 'paused' } });

      assert.equal(await r.withdrawCommand('c2', { ok: false, code: 'VIGIL_ROLLOUT_BUSY', message: 'nobody took it' }), true);
      assert.equal(await holder.claimCommand('c2', 'replica-a'), false, 'a withdrawn command is never carried out');
      assert.deepEqual(await r.pendingCommands(10), []);
      assert.equal((await r.getCommand('c2'))?.outcome?.ok, false);
      assert.equal(await r.getCommand('nope'), undefined);
    });

    it('counters: fixed windows per key, failures lock at the threshold and expire, cleared by key or prefix', async () => {
      const c = (await o.fresh()).counters;
      const hits = [];
      for (let i = 0; i < 3; i++) hits.push(await c.hit('rate:user:a', 60_000));
      assert.deepEqual(
        hits.map((h) => h.count),
        [1, 2, 3],
      );
      assert.ok(hits.every((h) => h.ttlMs > 0 && h.ttlMs <= 60_000));
      assert.equal((await c.hit('rate:user:b', 60_000)).count, 1, 'keys are independent');
      await c.hit('rate:short', 150);
      await waitFor('a short window ends', async () => (await c.hit('rate:short', 150)).count === 1);

      assert.equal(await c.fail('login-address:ann\n10.0.0.1', 3, 60_000), false);
      assert.equal(await c.fail('login-address:ann\n10.0.0.1', 3, 60_000), false);
      assert.equal(await c.lockedFor('login-address:ann\n10.0.0.1'), 0, 'not locked below the threshold');
      assert.equal(await c.fail('login-address:ann\n10.0.0.1', 3, 60_000), true, 'the third failure locks');
      const left = await c.lockedFor('login-address:ann\n10.0.0.1');
      assert.ok(left > 50_000 && left <= 60_000, `locked for about a minute, got ${left}`);
      await c.fail('login-address:ann\n10.0.0.2', 1, 60_000);
      await c.fail('login-address:anna\n10.0.0.1', 1, 60_000);
      await c.clearFailures('login-address:ann\n');
      assert.equal(await c.lockedFor('login-address:ann\n10.0.0.1'), 0, 'the prefix cleared');
      assert.equal(await c.lockedFor('login-address:ann\n10.0.0.2'), 0);
      assert.ok((await c.lockedFor('login-address:anna\n10.0.0.1')) > 0, 'another user is not cleared by a shared prefix');
      await c.clearFailure('login-address:anna\n10.0.0.1');
      assert.equal(await c.lockedFor('login-address:anna\n10.0.0.1'), 0);
      // A lock runs out by itself.
      await c.fail('device:x', 1, 150);
      assert.ok((await c.lockedFor('device:x')) > 0);
      await waitFor('a short lock runs out', async () => (await c.lockedFor('device:x')) === 0);
    });

    it('rollouts: packages (re-publish replaces), rollouts and their devices, desired models', async () => {
      const r = (await o.fresh()).rollouts;
      const pkg = (version: string, publishedAt: string) => ({
        name: 'vigil-demo',
        version,
        sha256: 'a'.repeat(64),
        sizeBytes: 5_000_000_000,
        keyId: 'k1',
        signature: 'sig',
        file: `vigil-demo-${version}.tgz`,
        publishedBy: 'ops1',
        publishedAt,
      });
      await r.addPackage(pkg('1.0.0', '2026-01-01T00:00:00.000Z'));
      await r.addPackage(pkg('2.0.0', '2026-02-01T00:00:00.000Z'));
      await r.addPackage({ ...pkg('2.0.0', '2026-02-02T00:00:00.000Z'), signature: 'sig2' });
      assert.deepEqual(await r.getPackage('vigil-demo', '2.0.0'), {
        ...pkg('2.0.0', '2026-02-02T00:00:00.000Z'),
        signature: 'sig2',
      });
      assert.equal(await r.getPackage('vigil-demo', '9'), undefined);
      assert.deepEqual(
        (await r.listPackages()).map((p) => p.version),
        ['2.0.0', '1.0.0'],
        'newest first',
      );

      const rollout = (id: string, createdAt: string): RolloutRecord => ({
        rolloutId: id,
        model: { name: 'vigil-demo', version: '2.0.0' },
        mode: 'active',
        spec: {
          cohort: { clinics: ['clinic-a'], tags: [] },
          waves: [{ devices: 1 }, { percent: 100 }],
          bakeS: 60,
          gates: { maxInstallFailures: 0, maxErrorRate: 0.05, maxP95LatencyMs: 500, maxPsi: 0.2, minSamples: 10, minVerdicts: 0 },
          onTrip: 'rollback',
        },
        state: 'running',
        currentWave: 0,
        waveStartedAt: createdAt,
        reason: null,
        gates: [],
        createdBy: 'ops1',
        createdAt,
        updatedAt: createdAt,
        finishedAt: null,
      });
      const device = (id: string, wave: number): RolloutDevice => ({
        rolloutId: 'r1',
        deviceId: id,
        clinicId: 'clinic-a',
        wave,
        previous: wave === 0 ? { name: 'vigil-demo', version: '1.0.0' } : null,
        state: 'pending',
        reason: null,
        baseline: null,
        updatedAt: '2026-02-03T00:00:00.000Z',
      });
      await r.createRollout(rollout('r1', '2026-02-03T00:00:00.000Z'), [
        device('edge-a2', 1),
        device('edge-a1', 0),
        device('edge-a3', 1),
      ]);
      await r.createRollout(rollout('r2', '2026-02-04T00:00:00.000Z'), []);
      const gates = [{ gate: 'error-rate' as const, value: 0.01, threshold: 0.05, status: 'pass' as const, samples: 40 }];
      await r.updateRollout('r1', { state: 'paused', currentWave: 1, reason: 'gate tripped', gates });
      const r1 = await r.getRollout('r1');
      assert.deepEqual([r1?.state, r1?.currentWave, r1?.reason, r1?.gates], ['paused', 1, 'gate tripped', gates]);
      assert.deepEqual(r1?.spec, rollout('r1', '').spec);
      assert.ok((r1?.updatedAt ?? '') > '2026-02-03T00:00:00.000Z');
      assert.equal(await r.getRollout('nope'), undefined);
      assert.deepEqual(
        (await r.listRollouts(10)).map((x) => x.rolloutId),
        ['r2', 'r1'],
      );
      assert.deepEqual(
        (await r.listRollouts(1)).map((x) => x.rolloutId),
        ['r2'],
      );
      await r.updateRolloutDevice('r1', 'edge-a1', { state: 'installed', baseline: { received: 10, failed: 1, quarantined: 0 } });
      await r.updateRolloutDevice('r1', 'edge-a2', { state: 'failed', reason: 'signature' });
      const devices = await r.rolloutDevices('r1');
      assert.deepEqual(
        devices.map((d) => [d.deviceId, d.wave, d.state]),
        [
          ['edge-a1', 0, 'installed'],
          ['edge-a2', 1, 'failed'],
          ['edge-a3', 1, 'pending'],
        ],
      );
      assert.deepEqual(devices[0]?.baseline, { received: 10, failed: 1, quarantined: 0 });
      assert.deepEqual(devices[0]?.previous, { name: 'vigil-demo', version: '1.0.0' });
      assert.equal(devices[1]?.reason, 'signature');

      await r.setDesired(desired('edge-a2', '1.0.0', '2026-02-03T00:00:00.000Z'));
      await r.setDesired(desired('edge-a1', '1.0.0', '2026-02-03T00:00:00.000Z'));
      const latest = desired('edge-a2', '2.0.0', '2026-02-04T00:00:00.000Z');
      await r.setDesired(latest);
      const listed = await r.listDesired();
      assert.deepEqual(
        listed.map((m) => [m.deviceId, m.active.version]),
        [
          ['edge-a1', '1.0.0'],
          ['edge-a2', '2.0.0'],
        ],
      );
      assert.deepEqual(listed[1], latest);
    });
  });
}
