/** Ordered, append-only. A released migration is never edited: add a new one. */
export const SQLITE_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'devices, device state, results, dead letters',
    sql: `
      CREATE TABLE devices (
        device_id TEXT PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        tags_json TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        revoked_at TEXT
      );
      CREATE TABLE device_state (
        device_id TEXT PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'unknown',
        status_at TEXT,
        agent_version TEXT,
        last_seen_at TEXT,
        last_telemetry_json TEXT,
        last_telemetry_at TEXT,
        model_reported_json TEXT,
        model_reported_at TEXT
      );
      CREATE TABLE results (
        message_id TEXT PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        patient_key TEXT NOT NULL,
        study_key TEXT NOT NULL,
        instance_key TEXT NOT NULL,
        study_date TEXT NOT NULL,
        laterality TEXT NOT NULL,
        view TEXT NOT NULL,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        score REAL NOT NULL,
        shadow INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body_json TEXT NOT NULL
      );
      CREATE INDEX results_patient ON results (patient_key, study_date);
      CREATE INDEX results_clinic_time ON results (clinic_id, created_at);
      CREATE INDEX results_device_time ON results (device_id, created_at);
      CREATE INDEX results_time ON results (created_at);
      CREATE TABLE dead_letters (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        client_id TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload_bytes INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL,
        payload_excerpt BLOB NOT NULL
      );
    `,
  },
];
