import { SqliteStateStore } from '@vigil/cloud-hub';
import { syntheticResult } from './harness/result-factory.js';

const path = `/tmp/mb/state-${process.pid}.sqlite`;
const store = new SqliteStateStore(path);
const N = 60000,
  B = 500;
const results = Array.from({ length: N }, (_, i) =>
  syntheticResult({ clinicId: `clinic-${i % 3}`, deviceId: `edge-${i % 10}` }, i, 512),
);
const t0 = performance.now();
let commitMs = 0;
for (let i = 0; i < N; i += B) {
  const batch = {
    results: results.slice(i, i + B),
    telemetry: [],
    statuses: [],
    modelReports: [],
    deadLetters: [],
    receivedAt: new Date().toISOString(),
  };
  const s = performance.now();
  await store.commitIngest(batch as never);
  commitMs += performance.now() - s;
}
await store.close();
console.log(JSON.stringify({ totalMs: Math.round(performance.now() - t0), usPerMsg: Math.round((commitMs / N) * 1000) }));
