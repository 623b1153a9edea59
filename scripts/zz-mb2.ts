import Database from 'better-sqlite3';
import { syntheticResult } from './harness/result-factory.js';

const variant = process.argv[2] ?? 'base';
const db = new Database(`/tmp/mb/v-${variant}-${process.pid}.sqlite`);
db.pragma('journal_mode = WAL');
db.pragma('synchronous = NORMAL');
db.pragma('cache_size = -65536');
if (variant.includes('ckpt')) db.pragma('wal_autocheckpoint = 16384');
if (variant.includes('nockpt')) db.pragma('wal_autocheckpoint = 0');
db.exec(`CREATE TABLE results (message_id TEXT PRIMARY KEY, clinic_id TEXT NOT NULL, device_id TEXT NOT NULL, patient_key TEXT NOT NULL,
 study_key TEXT NOT NULL, instance_key TEXT NOT NULL, study_date TEXT NOT NULL, laterality TEXT, view TEXT, model_name TEXT, model_version TEXT,
 score REAL, shadow INTEGER, created_at TEXT, received_at TEXT, body_json TEXT)`);
if (!variant.includes('noidx'))
  db.exec(`CREATE INDEX results_patient ON results (patient_key, study_date);
 CREATE INDEX results_clinic_time ON results (clinic_id, created_at);
 CREATE INDEX results_device_time ON results (device_id, created_at);
 CREATE INDEX results_score_time ON results (score, created_at);
 CREATE INDEX results_time_id ON results (created_at, message_id);`);
const ins = db.prepare(`INSERT OR IGNORE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`);
const N = 60000,
  B = 500;
const results = Array.from({ length: N }, (_, i) =>
  syntheticResult({ clinicId: `clinic-${i % 3}`, deviceId: `edge-${i % 10}` }, i, 512),
);
const bodies = results.map((r) => JSON.stringify(r));
let stringifyMs = 0;
const t0 = performance.now();
for (let i = 0; i < N; i += B) {
  db.transaction(() => {
    for (let k = i; k < Math.min(N, i + B); k++) {
      const r = results[k]!;
      const s = performance.now();
      const body = variant.includes('nostr') ? bodies[k] : JSON.stringify(r);
      stringifyMs += performance.now() - s;
      ins.run(
        r.messageId,
        r.clinicId,
        r.deviceId,
        r.patientKey,
        r.studyKey,
        r.instanceKey,
        r.studyDate,
        r.laterality,
        r.view,
        r.model.name,
        r.model.version,
        r.score,
        0,
        r.createdAt,
        new Date().toISOString(),
        body,
      );
    }
  })();
}
console.log(
  variant,
  JSON.stringify({
    usPerMsg: Math.round(((performance.now() - t0) / N) * 1000),
    stringifyUs: Math.round((stringifyMs / N) * 1000),
  }),
);
