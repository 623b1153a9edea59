/**
 * PostgreSQL schema, ordered and append-only like the SQLite migrations: a released migration is
 * never edited, a change is a new version. Version 1 is the state schema as of SQLite migration 6,
 * in PostgreSQL's types (timestamps stay ISO-8601 text so both engines return identical values and
 * keyset cursors; JSON documents are jsonb where queried, text where only stored).
 */
export const PG_MIGRATIONS: readonly { version: number; name: string; sql: string }[] = [
  {
    version: 1,
    name: 'state schema (devices, results, follow-up, users, audit, models, rollouts)',
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
        model_name TEXT,
        model_version TEXT,
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
        score DOUBLE PRECISION NOT NULL,
        shadow BOOLEAN NOT NULL DEFAULT FALSE,
        created_at TEXT NOT NULL,
        received_at TEXT NOT NULL,
        body_json TEXT NOT NULL
      );
      CREATE INDEX results_patient ON results (patient_key, study_date);
      CREATE INDEX results_clinic_time ON results (clinic_id, created_at);
      CREATE INDEX results_device_time ON results (device_id, created_at);
      CREATE INDEX results_time_id ON results (created_at, message_id);
      CREATE TABLE dead_letters (
        id BIGSERIAL PRIMARY KEY,
        received_at TEXT NOT NULL,
        topic TEXT NOT NULL,
        client_id TEXT NOT NULL,
        code TEXT NOT NULL,
        reason TEXT NOT NULL,
        payload_bytes INTEGER NOT NULL,
        payload_sha256 TEXT NOT NULL,
        payload_excerpt BYTEA NOT NULL
      );
      CREATE TABLE patients (
        patient_key TEXT PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        clinic_ids TEXT NOT NULL DEFAULT '[]',
        first_study_date TEXT NOT NULL,
        last_study_date TEXT NOT NULL,
        last_study_key TEXT NOT NULL,
        studies INTEGER NOT NULL,
        category INTEGER NOT NULL,
        due_date TEXT,
        open_alerts INTEGER NOT NULL DEFAULT 0,
        updated_at TEXT NOT NULL
      );
      CREATE INDEX patients_due ON patients (due_date);
      CREATE INDEX patients_last_study ON patients (last_study_date, patient_key);
      CREATE TABLE patient_clinics (
        patient_key TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        PRIMARY KEY (patient_key, clinic_id)
      );
      CREATE INDEX patient_clinics_clinic ON patient_clinics (clinic_id, patient_key);
      CREATE TABLE alerts (
        alert_key TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        patient_key TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        device_id TEXT,
        laterality TEXT,
        view TEXT,
        study_key TEXT NOT NULL,
        study_date TEXT NOT NULL,
        track_id TEXT,
        reason TEXT NOT NULL,
        figures_json TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'open',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        acknowledged_by TEXT,
        acknowledged_at TEXT,
        resolved_by TEXT,
        resolved_at TEXT,
        note TEXT
      );
      CREATE INDEX alerts_time_key ON alerts (created_at, alert_key);
      CREATE INDEX alerts_status_time ON alerts (status, created_at, alert_key);
      CREATE INDEX alerts_patient ON alerts (patient_key, created_at);
      CREATE TABLE users (
        username TEXT PRIMARY KEY,
        display_name TEXT NOT NULL,
        role TEXT NOT NULL,
        password_hash TEXT NOT NULL,
        totp_secret TEXT,
        totp_pending_secret TEXT,
        totp_last_step BIGINT NOT NULL DEFAULT 0,
        failed_logins INTEGER NOT NULL DEFAULT 0,
        locked_until TEXT,
        created_at TEXT NOT NULL,
        disabled_at TEXT
      );
      CREATE TABLE recovery_codes (
        username TEXT NOT NULL,
        code_hash TEXT NOT NULL,
        used_at TEXT,
        PRIMARY KEY (username, code_hash)
      );
      CREATE TABLE sessions (
        session_hash TEXT PRIMARY KEY,
        username TEXT NOT NULL,
        stage TEXT NOT NULL,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        last_seen_at TEXT NOT NULL
      );
      CREATE INDEX sessions_user ON sessions (username);
      CREATE TABLE api_tokens (
        token_id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL,
        username TEXT NOT NULL,
        name TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        last_used_at TEXT,
        revoked_at TEXT
      );
      CREATE TABLE audit_log (
        seq BIGINT PRIMARY KEY,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        action TEXT NOT NULL,
        target_type TEXT NOT NULL,
        target_id TEXT NOT NULL,
        patient_key TEXT,
        outcome TEXT NOT NULL,
        details_json TEXT NOT NULL,
        ip TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL
      );
      CREATE INDEX audit_patient ON audit_log (patient_key);
      CREATE INDEX audit_actor ON audit_log (actor, seq);
      -- Append-only: the database itself refuses to rewrite history, whoever connects.
      CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'insufficient_privilege'; END $$;
      CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
        FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
      CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
        FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
      CREATE TABLE model_packages (
        name TEXT NOT NULL,
        version TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        size_bytes BIGINT NOT NULL,
        key_id TEXT NOT NULL,
        signature TEXT NOT NULL,
        file TEXT NOT NULL,
        published_by TEXT NOT NULL,
        published_at TEXT NOT NULL,
        PRIMARY KEY (name, version)
      );
      CREATE TABLE rollouts (
        rollout_id TEXT PRIMARY KEY,
        model_name TEXT NOT NULL,
        model_version TEXT NOT NULL,
        mode TEXT NOT NULL,
        spec_json TEXT NOT NULL,
        state TEXT NOT NULL,
        current_wave INTEGER NOT NULL,
        wave_started_at TEXT,
        reason TEXT,
        gates_json TEXT NOT NULL DEFAULT '[]',
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT
      );
      CREATE INDEX rollouts_state ON rollouts (state, created_at);
      CREATE TABLE rollout_devices (
        rollout_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        wave INTEGER NOT NULL,
        previous_json TEXT,
        state TEXT NOT NULL,
        reason TEXT,
        baseline_json TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (rollout_id, device_id)
      );
      CREATE TABLE device_desired (
        device_id TEXT PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        message_json TEXT NOT NULL,
        updated_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'bytewise order for keyed text (as SQLite), and the indexes SQLite has for patient views and score queries',
    sql: `
      -- Keyset cursors and "newer than" comparisons compare ISO timestamps and ids as text: the C
      -- collation orders them byte by byte whatever locale the database was created with (and is
      -- cheaper than a linguistic one).
      ALTER TABLE results ALTER COLUMN message_id TYPE TEXT COLLATE "C",
        ALTER COLUMN created_at TYPE TEXT COLLATE "C", ALTER COLUMN patient_key TYPE TEXT COLLATE "C",
        ALTER COLUMN study_date TYPE TEXT COLLATE "C";
      ALTER TABLE patients ALTER COLUMN patient_key TYPE TEXT COLLATE "C",
        ALTER COLUMN last_study_date TYPE TEXT COLLATE "C", ALTER COLUMN due_date TYPE TEXT COLLATE "C";
      ALTER TABLE alerts ALTER COLUMN alert_key TYPE TEXT COLLATE "C", ALTER COLUMN created_at TYPE TEXT COLLATE "C";
      ALTER TABLE device_state ALTER COLUMN last_seen_at TYPE TEXT COLLATE "C",
        ALTER COLUMN status_at TYPE TEXT COLLATE "C", ALTER COLUMN last_telemetry_at TYPE TEXT COLLATE "C",
        ALTER COLUMN model_reported_at TYPE TEXT COLLATE "C";
      ALTER TABLE sessions ALTER COLUMN expires_at TYPE TEXT COLLATE "C";
      CREATE INDEX results_patient_lat_view ON results (patient_key, laterality, view);
      CREATE INDEX results_score_time ON results (score, created_at);
      CREATE INDEX results_model ON results (model_name, model_version, created_at);
      CREATE INDEX patients_clinic ON patients (clinic_id, last_study_date, patient_key);
      CREATE INDEX sessions_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 3,
    name: 'leases for singleton work across hub replicas',
    sql: `
      CREATE TABLE leases (
        name TEXT PRIMARY KEY,
        holder TEXT NOT NULL,
        epoch BIGINT NOT NULL,
        expires_at TIMESTAMPTZ NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'counters shared by replicas (rate limits, failed logins) and operator rollout commands',
    sql: `
      -- Soft state: UNLOGGED (no WAL, no fsync); a crash of the database empties them.
      CREATE UNLOGGED TABLE rate_windows (
        key TEXT COLLATE "C" PRIMARY KEY,
        count BIGINT NOT NULL,
        ends_at TIMESTAMPTZ NOT NULL
      );
      CREATE UNLOGGED TABLE failure_counts (
        key TEXT COLLATE "C" PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at TIMESTAMPTZ NOT NULL,
        locked_until TIMESTAMPTZ
      );
      CREATE TABLE rollout_commands (
        command_id TEXT PRIMARY KEY,
        action TEXT NOT NULL,
        input_json TEXT NOT NULL,
        requested_by TEXT NOT NULL,
        requested_at TEXT COLLATE "C" NOT NULL,
        claimed_by TEXT,
        done_at TEXT,
        outcome_json TEXT
      );
      CREATE INDEX rollout_commands_pending ON rollout_commands (requested_at) WHERE done_at IS NULL;
    `,
  },
  {
    version: 5,
    name: "clinic-scoped users; clinicians' verdicts (append-only: amended, never erased)",
    sql: `
      -- NULL: the whole network; a JSON array of clinic ids otherwise.
      ALTER TABLE users ADD COLUMN clinics_json TEXT;
      CREATE TABLE verdicts (
        seq BIGSERIAL PRIMARY KEY,
        verdict_id TEXT NOT NULL UNIQUE,
        subject TEXT COLLATE "C" NOT NULL,
        kind TEXT NOT NULL,
        patient_key TEXT COLLATE "C" NOT NULL,
        study_key TEXT COLLATE "C" NOT NULL,
        clinic_id TEXT COLLATE "C" NOT NULL,
        result_id TEXT,
        finding_index INTEGER,
        value_json TEXT NOT NULL,
        author TEXT NOT NULL,
        source TEXT NOT NULL,
        created_at TEXT NOT NULL,
        supersedes TEXT
      );
      CREATE INDEX verdicts_subject ON verdicts (subject, seq);
      CREATE INDEX verdicts_patient ON verdicts (patient_key, seq);
      CREATE INDEX verdicts_study ON verdicts (study_key, seq);
      CREATE FUNCTION verdicts_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'verdicts are append-only: amend with a new verdict'; END $$;
      CREATE TRIGGER verdicts_no_change BEFORE UPDATE OR DELETE ON verdicts
        FOR EACH ROW EXECUTE FUNCTION verdicts_append_only();
      CREATE TRIGGER verdicts_no_truncate BEFORE TRUNCATE ON verdicts
        FOR EACH STATEMENT EXECUTE FUNCTION verdicts_append_only();
    `,
  },
  {
    version: 6,
    name: 'ops alerts (real changes in real-world model performance)',
    sql: `
      CREATE TABLE ops_alerts (
        alert_key TEXT COLLATE "C" PRIMARY KEY,
        kind TEXT NOT NULL,
        severity TEXT NOT NULL,
        clinic_id TEXT COLLATE "C",
        summary TEXT NOT NULL,
        details_json TEXT NOT NULL,
        created_at TEXT COLLATE "C" NOT NULL,
        acknowledged_by TEXT,
        acknowledged_at TEXT
      );
      CREATE INDEX ops_alerts_time ON ops_alerts (created_at);
    `,
  },
  {
    version: 7,
    name: 'device CA: enrolment tokens and issued certificates',
    sql: `
      CREATE TABLE enrolment_tokens (
        token_hash TEXT COLLATE "C" PRIMARY KEY,
        clinic_id TEXT NOT NULL,
        device_id TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        used_at TEXT
      );
      CREATE TABLE device_certificates (
        serial TEXT COLLATE "C" PRIMARY KEY,
        device_id TEXT NOT NULL,
        clinic_id TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        not_before TEXT NOT NULL,
        not_after TEXT NOT NULL,
        issued_at TEXT NOT NULL,
        revoked_at TEXT
      );
      CREATE INDEX device_certificates_device ON device_certificates (device_id, issued_at);
    `,
  },
  {
    version: 8,
    name: 'results by time received (follow-up catch-up after a crash)',
    sql: 'CREATE INDEX results_received ON results (received_at);',
  },
  {
    version: 9,
    name: 'drop the two result indexes no query uses (SQLite dropped them in its versions 4 and 5)',
    sql: `
      -- Patient queries use results_patient. Scores are random, so every insert dirtied a random page
      -- of the score index; a minScore listing walks results_time_id newest first and filters. Each
      -- index cost every ingested result (issue 30).
      DROP INDEX IF EXISTS results_patient_lat_view;
      DROP INDEX IF EXISTS results_score_time;
    `,
  },
];
