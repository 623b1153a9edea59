// API latency with 100 000 results stored: the results list (first page, a deep page, filtered) and
// patient timelines, each request through HTTP, authentication and the audit write that every read
// of patient data makes durable. Baselines in the same run: /healthz through the same server (the
// HTTP floor) and the store query alone (the SQL floor).
import { randomInt } from 'node:crypto';
import type { IngestBatch } from '@vigil/cloud-hub';
import { provisionUser } from '../../cloud-hub/src/auth/user-provisioning.js';
import { ApiClient } from '../harness/api-client.js';
import { studyResult } from '../harness/followup-results.js';
import { startTestHub } from '../harness/hub-fixture.js';
import { PostgresServer } from '../harness/postgres.js';
import { FOUR_VIEWS } from '../phantoms/cohort-plan.js';
import { progress, round, summarise } from './stats.js';

const PATIENTS = 6250;
const VISITS = 4;
const VIEWS = FOUR_VIEWS;
const REQUESTS = 400;

async function timeRequests(n: number, call: (i: number) => Promise<number>): Promise<ReturnType<typeof summarise>> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const started = performance.now();
    const status = await call(i);
    if (status !== 200) throw new Error(`request ${i} answered ${status}`);
    samples.push(performance.now() - started);
  }
  return summarise(samples);
}

export async function benchApi(): Promise<Record<string, unknown>> {
  const sqlite = await measure('sqlite', {});
  const server = new PostgresServer();
  await server.start();
  try {
    const postgres = await measure('postgres', { state: { driver: 'postgres', url: server.createDatabase('bench_api') } });
    const p50 = (m: typeof sqlite, k: keyof typeof sqlite.ms) => m.ms[k].p50;
    return {
      bench: 'api',
      sqlite,
      postgres,
      // PostgreSQL's p50 over SQLite's, same data, same run.
      postgresOverSqliteP50: Object.fromEntries(
        (['resultsFirstPage', 'resultsDeepPage', 'resultsFiltered', 'patientTimeline', 'storeQueryBaseline'] as const).map(
          (k) => [k, round(p50(postgres, k) / p50(sqlite, k))],
        ),
      ),
      note: 'every results/timeline request authenticates a session and durably appends an audit entry',
    };
  } finally {
    await server.dispose();
  }
}

async function measure(engine: string, state: Record<string, unknown>) {
  const h = await startTestHub({ http: { port: 0, rateLimitPerMinute: 1_000_000 }, ...state });
  try {
    progress(
      `api (${engine}): storing ${PATIENTS * VISITS * VIEWS.length} results (${PATIENTS} patients × ${VISITS} visits × 4 views)`,
    );
    let batch: IngestBatch = { results: [], telemetry: [], statuses: [], modelReports: [], deadLetters: [], receivedAt: '' };
    for (let p = 0; p < PATIENTS; p++) {
      for (let v = 0; v < VISITS; v++) {
        const studyDate = new Date(Date.UTC(2021, 0, 1 + v * 365 + (p % 200))).toISOString().slice(0, 10);
        for (const [laterality, view] of VIEWS) {
          const grow = 6 + v * 1.5;
          batch.results.push(
            studyResult({
              clinicId: `clinic-${p % 12}`,
              deviceId: `edge-${p % 36}`,
              patient: `bench-${p}`,
              studyDate,
              laterality,
              view,
              score: ((p * 7 + v * 13) % 100) / 100,
              findings:
                p % 3 === 0
                  ? [
                      { x: 0.4, y: 0.5, diameterMm: grow, score: 0.7 },
                      { x: 0.7, y: 0.3, diameterMm: 5, score: 0.55 },
                    ]
                  : [],
            }),
          );
        }
      }
      if (batch.results.length >= 2000 || p === PATIENTS - 1) {
        batch.receivedAt = new Date().toISOString();
        await h.hub.state.commitIngest(batch);
        batch = { results: [], telemetry: [], statuses: [], modelReports: [], deadLetters: [], receivedAt: '' };
        if (p % 1000 < 125) progress(`api (${engine}): ${(p + 1) * VISITS * VIEWS.length} results stored`);
      }
    }
    const stored = await h.hub.state.countResults();
    const admin = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'bench',
      role: 'admin',
      enrolTotp: true,
      actor: 'bench',
    });
    const session = await new ApiClient(h.httpUrl).post<{ csrfToken: string }>('/api/v1/auth/login', {
      username: admin.username,
      password: admin.password,
      recoveryCode: admin.recoveryCodes[0],
    });
    const cookie = (session.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const api = new ApiClient(h.httpUrl, { cookie });
    const patientKeys = (await h.hub.state.queryResults({ limit: 500 })).items.map((r) => r.patientKey);
    // A deep page: the cursor after 50 000 results.
    let deepCursor: string | null = null;
    {
      let cursor: string | undefined;
      for (let i = 0; i < 100; i++) {
        const page = await h.hub.state.queryResults({ limit: 500, ...(cursor ? { cursor } : {}) });
        cursor = page.next ?? undefined;
      }
      deepCursor = cursor ?? null;
    }

    progress(`api (${engine}): baselines (/healthz, store query)`);
    const healthz = await timeRequests(REQUESTS, async () => (await fetch(`${h.httpUrl}/healthz`)).status);
    const storeOnly = await timeRequests(REQUESTS, async () => {
      await h.hub.state.queryResults({ limit: 50 });
      return 200;
    });
    progress(`api (${engine}): results endpoints`);
    const resultsFirst = await timeRequests(REQUESTS, async () => (await api.get('/api/v1/results?limit=50')).status);
    const resultsDeep = await timeRequests(
      REQUESTS,
      async () => (await api.get(`/api/v1/results?limit=50&cursor=${deepCursor}`)).status,
    );
    const resultsFiltered = await timeRequests(
      REQUESTS,
      async (i) => (await api.get(`/api/v1/results?limit=50&clinicId=clinic-${i % 12}&minScore=0.8`)).status,
    );
    progress(`api (${engine}): timeline endpoint`);
    const timeline = await timeRequests(
      REQUESTS,
      async () => (await api.get(`/api/v1/patients/${patientKeys[randomInt(patientKeys.length)]}/timeline`)).status,
    );
    progress(`api (${engine}): 8 concurrent clients on the results endpoint`);
    const started = performance.now();
    let done = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        for (let i = 0; i < REQUESTS / 4; i++) {
          const r = await api.get('/api/v1/results?limit=50');
          if (r.status === 200) done += 1;
        }
      }),
    );
    const concurrentPerS = done / ((performance.now() - started) / 1000);
    return {
      resultsStored: stored,
      requestsPerEndpoint: REQUESTS,
      ms: {
        healthzBaseline: healthz,
        storeQueryBaseline: storeOnly,
        resultsFirstPage: resultsFirst,
        resultsDeepPage: resultsDeep,
        resultsFiltered,
        patientTimeline: timeline,
      },
      ratioP50VsHealthz: {
        resultsFirstPage: round(resultsFirst.p50 / healthz.p50),
        resultsDeepPage: round(resultsDeep.p50 / healthz.p50),
        resultsFiltered: round(resultsFiltered.p50 / healthz.p50),
        patientTimeline: round(timeline.p50 / healthz.p50),
      },
      resultsRequestsPerSWith8Clients: round(concurrentPerS, 1),
    };
  } finally {
    await h.stop();
  }
}
