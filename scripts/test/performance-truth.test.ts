// Issue 16's metric test against truth: the real model's findings on a fresh phantom cohort go to a
// real hub; a clinician's verdicts are simulated from the generator's truth.json and sent through the
// API; the hub's reported PPV, miss rate, agreement and sensitivity must equal the figures computed
// here independently, straight from the truth (by the rule the alert evaluation uses to match a
// finding to a phantom lesion), and their 95 % intervals must contain them.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { test } from 'node:test';
import { analyzeInput, inputSpecOf, modelInputFromFile, OnnxModel } from '@vigil/edge-agent';
import { RESULT_SCHEMA, type ResultMessage, resultMessageId, topicFor } from '@vigil/shared';
import { provisionUser } from '../../cloud-hub/src/auth/user-provisioning.js';
import { matchTruth } from '../evaluate/alert-evaluation.js';
import { ApiClient, login } from '../harness/api-client.js';
import { startTestHub } from '../harness/hub-fixture.js';
import { BUNDLED_MODEL } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { isoStudyDate } from '../phantoms/cohort-plan.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';

const SEED = 6161; // never used in training
const key = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 32);
/** Lesions a reader is expected to see; smaller truth findings are not counted as misses. */
const VISIBLE_MM = 5;

interface Proportion {
  k: number;
  n: number;
  value: number | null;
  low: number | null;
  high: number | null;
}

test('real-world performance equals the figures computed from truth, with intervals that contain them', async () => {
  const dir = makeTempDir('performance-truth');
  const h = await startTestHub({ auth: { loginRateLimitPerMinute: 1000 } });
  try {
    const truth = await generatePhantoms({ out: dir.path, patients: 5, visits: 1, seed: SEED, rows: 1024, columns: 832 });
    const model = await OnnxModel.load(BUNDLED_MODEL);
    const spec = inputSpecOf(model.manifest);
    const clinic = { clinicId: 'clinic-a', deviceId: 'edge-a1' };
    const created = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'reader',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
    });
    const { client: session } = await login(h.httpUrl, 'reader', created.password, created.totpSecret);
    const token = await session.post<{ token: string }>('/api/v1/tokens', { name: 'verdicts' });
    const api = new ApiClient(h.httpUrl, { bearer: token.body.token });

    // Independent figures, counted from truth alone.
    const expected = { tp: 0, reported: 0, studies: 0, studiesWithMiss: 0, agreed: 0, malignant: 0, detected: 0 };
    const verdicts: Record<string, unknown>[] = [];
    for (const patient of truth.patients) {
      for (const visit of patient.visits) {
        const patientKey = key(`patient/${patient.patientId}`);
        const studyKey = key(`study/${visit.studyInstanceUid}`);
        let studyHasMiss = false;
        let modelPositive = false;
        let truthPositive = false;
        const sides = new Map<'L' | 'R', { cancer: boolean; reported: boolean }>();
        for (const image of visit.images) {
          const { attrs, input } = await modelInputFromFile(join(dir.path, image.file), spec);
          const { score, findings } = await analyzeInput(input, attrs, model);
          const instanceKey = key(`instance/${image.sopInstanceUid}`);
          const result: ResultMessage = {
            schema: RESULT_SCHEMA,
            messageId: resultMessageId(instanceKey, model.manifest.name, model.manifest.version),
            ...clinic,
            createdAt: '2026-11-02T09:00:00.000Z',
            patientKey,
            studyKey,
            seriesKey: key(`series/${image.sopInstanceUid}`),
            instanceKey,
            studyDate: isoStudyDate(visit.studyDate),
            modality: 'MG',
            laterality: image.laterality,
            view: image.view,
            model: { name: model.manifest.name, version: model.manifest.version },
            score,
            findings,
            image: { rows: image.rows, columns: image.columns, pixelSpacingMm: image.pixelSpacingMm },
            timingsMs: { decode: 1, preprocess: 1, infer: 1 },
          };
          const topic = topicFor(clinic, 'results');
          assert.equal(await h.hub.ingest.submit(topic, Buffer.from(JSON.stringify(result)), clinic.deviceId), 'stored');

          const matches = findings.map((f) => matchTruth(image, f));
          const side = image.laterality as 'L' | 'R';
          const s = sides.get(side) ?? { cancer: false, reported: false };
          for (const [i, m] of matches.entries()) {
            expected.reported++;
            const onLesion = m !== undefined && m !== 'lookalike';
            if (onLesion) expected.tp++;
            verdicts.push({
              kind: 'finding',
              resultId: result.messageId,
              findingIndex: i,
              verdict: onLesion ? 'confirmed' : 'dismissed',
              ...(onLesion ? {} : { reason: m === 'lookalike' ? 'benign' : 'artefact' }),
            });
          }
          if (findings.length > 0) {
            modelPositive = true;
            s.reported = true;
          }
          for (const t of image.findings) {
            if (t.diameterMm < VISIBLE_MM) continue;
            truthPositive = true;
            s.cancer = true;
            const found = matches.some((m) => m !== undefined && m !== 'lookalike' && m.id === t.id);
            if (!found) {
              studyHasMiss = true;
              verdicts.push({ kind: 'missed', resultId: result.messageId, x: t.x, y: t.y, diameterMm: t.diameterMm });
            }
          }
          sides.set(side, s);
        }
        expected.studies++;
        if (studyHasMiss) expected.studiesWithMiss++;
        if (modelPositive === truthPositive) expected.agreed++;
        verdicts.push({ kind: 'assessment', patientKey, studyKey, birads: truthPositive ? 4 : 1 });
        for (const [laterality, s] of sides) {
          if (!s.cancer) continue;
          expected.malignant++;
          if (s.reported) expected.detected++;
          verdicts.push({ kind: 'outcome', patientKey, studyKey, outcome: 'malignant', laterality });
        }
      }
    }
    await h.hub.ingest.close();
    for (const v of verdicts) {
      const r = await api.post('/api/v1/verdicts', v);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
    assert.ok(expected.reported >= 5 && expected.malignant >= 3, `a meaningful cohort: ${JSON.stringify(expected)}`);

    const report = await api.get<{ byVersion: Record<string, Proportion | string>[] }>('/api/v1/performance');
    assert.equal(report.status, 200);
    const [row] = report.body.byVersion;
    assert.ok(row && report.body.byVersion.length === 1);
    const figures = {
      ppv: [expected.tp, expected.reported],
      missRate: [expected.studiesWithMiss, expected.studies],
      agreement: [expected.agreed, expected.studies],
      sensitivity: [expected.detected, expected.malignant],
    } as const;
    for (const [metric, [k, n]] of Object.entries(figures)) {
      const got = row[metric] as Proportion;
      assert.deepEqual([got.k, got.n], [k, n], `${metric}: ${JSON.stringify(got)} vs truth ${k}/${n}`);
      if (n === 0) continue;
      assert.ok(Math.abs((got.value as number) - k / n) < 1e-12, metric);
      assert.ok((got.low as number) <= k / n && k / n <= (got.high as number), `${metric}: the interval contains the figure`);
      assert.ok((got.high as number) - (got.low as number) > 0 || k === 0 || k === n, `${metric}: a real interval`);
    }
  } finally {
    await h.stop();
    dir.remove();
  }
});
