// Second outside review, item 2: one large outcomes file must not freeze the hub. A 20 000-line file
// (the most one import takes: 40 000 verdicts over 400 studies) is imported through the real API
// while another thread polls /healthz every 20 ms; the hub keeps answering (p99 under 200 ms, or
// within 3× of the same poller's p99 with no import when the machine is loaded), every verdict is
// stored and audited. One line more is refused with its own code and nothing stored; a second import
// while one runs is refused as busy.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { topicFor } from '@vigil/shared';
import { ApiClient, login } from '../../scripts/harness/api-client.js';
import { studyResult } from '../../scripts/harness/followup-results.js';
import { startTestHub } from '../../scripts/harness/hub-fixture.js';
import { provisionUser } from '../src/auth/user-provisioning.js';
import { MAX_OUTCOME_LINES } from '../src/verdicts/outcome-csv.js';

/** Polls a URL from its own thread (its own event loop) and reports each request's latency in ms. */
function poller(url: string): { stop(): Promise<number[]> } {
  const worker = new Worker(
    `const { parentPort, workerData } = require('node:worker_threads');
     const latencies = [];
     let running = true;
     parentPort.on('message', () => { running = false; });
     (async () => {
       while (running) {
         const t = performance.now();
         await fetch(workerData).then((r) => r.text());
         latencies.push(performance.now() - t);
         await new Promise((r) => setTimeout(r, 20));
       }
       parentPort.postMessage(latencies);
     })();`,
    { eval: true, workerData: url },
  );
  return {
    stop: () =>
      new Promise((resolve) => {
        worker.once('message', (latencies: number[]) => {
          void worker.terminate();
          resolve(latencies);
        });
        worker.postMessage('stop');
      }),
  };
}

const p99 = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length * 0.99)] ?? Number.NaN;

test('a 20 000-line outcomes import keeps the hub answering; past the limit and while busy it is refused with a code', async () => {
  const h = await startTestHub({ auth: { loginRateLimitPerMinute: 1000 } });
  try {
    const device = { clinicId: 'clinic-a', deviceId: 'edge-a' };
    await h.addDevice(device.clinicId, device.deviceId);
    const studies: { patientKey: string; studyKey: string }[] = [];
    for (let p = 0; p < 400; p += 1) {
      const r = studyResult({
        ...device,
        patient: `import-${p}`,
        studyDate: '2024-03-01',
        laterality: 'L',
        view: 'CC',
        score: 0.5,
        findings: [],
      });
      assert.equal(
        await h.hub.ingest.submit(topicFor(device, 'results'), Buffer.from(JSON.stringify(r)), device.deviceId),
        'stored',
      );
      studies.push({ patientKey: r.patientKey, studyKey: r.studyKey });
    }
    const created = await provisionUser(h.hub.auth, h.hub.state.audit, {
      username: 'dr.import',
      role: 'clinician',
      enrolTotp: true,
      actor: 'test',
    });
    const { client } = await login(h.httpUrl, 'dr.import', created.password, created.totpSecret);
    const token = await client.post<{ token: string }>('/api/v1/tokens', { name: 'import' });
    const api = new ApiClient(h.httpUrl, { bearer: token.body.token });
    const csv = (n: number) =>
      `patient_key,study_key,outcome,laterality,outcome_date,birads\n${Array.from({ length: n }, (_, k) => {
        const s = studies[k % studies.length] as (typeof studies)[0];
        return `${s.patientKey},${s.studyKey},${k % 2 ? 'benign' : 'stable'},${k % 3 ? 'L' : 'R'},2024-0${1 + (k % 9)}-15,${k % 5}`;
      }).join('\n')}\n`;
    const upload = (text: string) =>
      api.request<{ imported?: number; lines?: number; error?: { code: string; message: string } }>(
        'POST',
        '/api/v1/outcomes/import',
        text,
        { headers: { 'content-type': 'text/csv' } },
      );
    const verdictCount = async () => (await h.hub.state.verdicts.current({})).length;

    // The same poller with nothing else running: what this machine gives right now.
    const idle = poller(`${h.httpUrl}/healthz`);
    await new Promise((resolve) => setTimeout(resolve, 2000));
    const baseline = await idle.stop();

    const busy = poller(`${h.httpUrl}/healthz`);
    const started = performance.now();
    const big = upload(csv(MAX_OUTCOME_LINES));
    // While it runs, a second import is refused, not queued behind it.
    await new Promise((resolve) => setTimeout(resolve, 50));
    const second = await upload(csv(10));
    const done = await big;
    const seconds = (performance.now() - started) / 1000;
    const during = await busy.stop();

    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.lines, MAX_OUTCOME_LINES);
    assert.equal(done.body.imported, 2 * MAX_OUTCOME_LINES, 'an outcome and an assessment per line');
    assert.equal(second.status, 429);
    assert.equal(second.body.error?.code, 'VIGIL_IMPORT_BUSY');
    const limit = Math.max(200, 3 * p99(baseline));
    console.log(
      `import of ${MAX_OUTCOME_LINES} lines: ${seconds.toFixed(1)} s; /healthz p99 ${p99(during).toFixed(0)} ms over ${during.length} polls (idle p99 ${p99(baseline).toFixed(0)} ms, limit ${limit.toFixed(0)} ms)`,
    );
    assert.ok(during.length >= 10, `${during.length} polls while the import ran`);
    assert.ok(p99(during) < limit, `/healthz p99 ${p99(during).toFixed(0)} ms while importing (limit ${limit.toFixed(0)} ms)`);
    // Current verdicts: one outcome per study and laterality, one assessment per study.
    assert.equal(await verdictCount(), studies.length * 3);
    const audit = await h.hub.state.audit.list({ limit: 500, action: 'verdict.import' });
    const audited = audit.items
      .filter((e) => e.action === 'verdict.import')
      .reduce((n, e) => n + ((e.details as { verdicts: unknown[] }).verdicts?.length ?? 0), 0);
    assert.equal(audited, 2 * MAX_OUTCOME_LINES, 'every stored verdict is in an audit entry');

    // One line past the limit: refused with its code, nothing stored.
    const before = await verdictCount();
    const tooLarge = await upload(csv(MAX_OUTCOME_LINES + 1));
    assert.equal(tooLarge.status, 413);
    assert.equal(tooLarge.body.error?.code, 'VIGIL_IMPORT_TOO_LARGE');
    assert.match(tooLarge.body.error?.message ?? '', /split the file/);
    assert.equal(await verdictCount(), before);
  } finally {
    await h.stop();
  }
});
