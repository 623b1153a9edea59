import { readFileSync } from 'node:fs';
import type { ResultMessage } from '@vigil/shared';
import { VigilError } from '@vigil/shared';
import pg from 'pg';
import type { DeviceRecord, DeviceState } from '../../broker/device-store.js';
import type { DeadLetter, IngestBatch, IngestCommitSummary } from '../../ingest/ingest-store.js';
import type { ModelResultFilter, ResultFilter, StoredResult } from '../../results/result-store.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import type { PostgresLocation, StateStore } from '../../state/state-store.js';
import { modelResultConditions, resultConditions, resultScope } from '../query-conditions.js';
import { SqlLeaseStore } from '../sql/sql-lease-store.js';
import { SqlOpsAlertStore } from '../sql/sql-ops-alert-store.js';
import { SqlPkiStore } from '../sql/sql-pki-store.js';
import { byCodeUnit } from '../sql/sql-port.js';
import { SqlRolloutStore } from '../sql/sql-rollout-store.js';
import { SqlUserStore } from '../sql/sql-user-store.js';
import { toDeadLetter, toDevice, toDeviceState, toStoredResult, totalMsOf } from '../state-rows.js';
import { PgAuditStore } from './pg-audit-store.js';
import { changed, coded, inTransaction, Params, pgFragment, rows, UNIQUE_VIOLATION } from './pg-client.js';
import { PgCounters } from './pg-counters.js';
import { PgFollowupStore } from './pg-followup-store.js';
import { migratePostgres } from './pg-migrate.js';
import { PgSqlPort } from './pg-sql-port.js';
import { PgVerdictStore } from './pg-verdict-store.js';

/**
 * A connection pool for a configured location. The URL is checked here, so a malformed one is a
 * coded error naming `state.url` before anything connects; TLS follows `sslmode` (in the URL or
 * the location) and the CA file.
 */
export function openPgPool(location: PostgresLocation, max = location.poolSize): pg.Pool {
  let url: URL;
  try {
    url = new URL(location.url);
  } catch {
    throw new VigilError('VIGIL_CONFIG_INVALID', 'config key state.url: not a URL (expected postgres://user@host:port/database)');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new VigilError('VIGIL_CONFIG_INVALID', `config key state.url: scheme ${url.protocol} is not postgres:`);
  }
  const sslmode = location.sslmode || url.searchParams.get('sslmode') || 'prefer';
  url.searchParams.delete('sslmode');
  let ssl: pg.PoolConfig['ssl'];
  if (sslmode === 'verify-full' || sslmode === 'verify-ca' || sslmode === 'require') {
    let ca: Buffer | undefined;
    if (location.caFile) {
      try {
        ca = readFileSync(location.caFile);
      } catch (error) {
        throw new VigilError(
          'VIGIL_TLS_MATERIAL_MISSING',
          `config key state.caFile: cannot read ${location.caFile}: ${(error as Error).message}`,
        );
      }
    }
    ssl = {
      ...(ca ? { ca } : {}),
      // require: encrypted, server not verified (libpq's meaning); verify-ca: chain only; verify-full: chain and name.
      rejectUnauthorized: sslmode !== 'require',
      ...(sslmode === 'verify-ca' ? { checkServerIdentity: () => undefined } : {}),
    };
  } else if (sslmode !== 'disable' && sslmode !== 'prefer' && sslmode !== 'allow') {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      `config key state.sslmode: ${sslmode} is not one of disable, require, verify-ca, verify-full`,
    );
  }
  const pool = new pg.Pool({
    connectionString: url.toString(),
    ...(ssl ? { ssl } : {}),
    max,
    connectionTimeoutMillis: location.connectTimeoutMs,
    // A statement that hangs (a server that stops answering) fails instead of holding ingest forever.
    query_timeout: location.statementTimeoutMs,
    application_name: 'vigil-hub',
  });
  // An idle connection cut by the server (restart, failover) is reported here; the pool replaces it
  // on next use, and queries in flight fail with their own coded error.
  pool.on('error', () => undefined);
  // The same for a connection cut while checked out: its query fails (and is coded); the event
  // itself must not become an uncaught exception.
  pool.on('connect', (client) => client.on('error', () => undefined));
  return pool;
}

/** Brings the schema up to date, with a coded error naming `state.url` when the server cannot be reached. */
export async function openPgSchema(pool: pg.Pool, location: PostgresLocation): Promise<void> {
  try {
    await migratePostgres(pool);
  } catch (error) {
    if (error instanceof VigilError) throw error;
    const safe = new URL(location.url);
    safe.password = '';
    throw new VigilError(
      'VIGIL_STATE_STORE_UNAVAILABLE',
      `config key state.url: PostgreSQL at ${safe.host}${safe.pathname} cannot be used: ${(error as Error).message}`,
      { cause: error },
    );
  }
}

/**
 * A batch's results in one statement; a result already stored (a redelivery) is skipped. The rows
 * inserted. The batch travels as one JSON array, split by the server (`json_array_elements`; each
 * element's text is the stored body, exactly `JSON.stringify(result)`): serialising sixteen
 * parameter arrays element by element in JavaScript, the JSON bodies escaped again inside a text
 * array, was about 15 % of the hub's main thread at ingest (issue 30's profile).
 */
async function insertResults(c: pg.PoolClient, r: readonly ResultMessage[], at: string): Promise<number> {
  if (r.length === 0) return 0;
  const inserted = await c.query(
    `INSERT INTO results (message_id, clinic_id, device_id, patient_key, study_key, instance_key, study_date, laterality,
          view, model_name, model_version, score, shadow, created_at, received_at, body_json)
        SELECT t."messageId", t."clinicId", t."deviceId", t."patientKey", t."studyKey", t."instanceKey", t."studyDate",
          t.laterality, t.view, t.model->>'name', t.model->>'version', t.score, coalesce(t.shadow, FALSE), t."createdAt", $2, e::text
        FROM json_array_elements($1::json) AS e,
          json_to_record(e) AS t("messageId" text, "clinicId" text, "deviceId" text, "patientKey" text, "studyKey" text,
            "instanceKey" text, "studyDate" text, laterality text, view text, model json, score float8, shadow bool, "createdAt" text)
        ON CONFLICT (message_id) DO NOTHING`,
    [JSON.stringify(r), at],
  );
  return inserted.rowCount ?? 0;
}

/** How stale a device's stored last-seen time may get while its results keep arriving (the fleet page's precision). */
const LAST_SEEN_EVERY_MS = 5000;

/**
 * The hub's state on PostgreSQL: every feature store over one pool. Commits are durable when they
 * resolve (synchronous_commit), so ingest acknowledges after `commitIngest` as on SQLite. During an
 * outage every call fails with VIGIL_STATE_STORE_UNAVAILABLE; the pool reconnects by itself.
 */
export class PgStateStore implements StateStore {
  readonly driver = 'postgres';
  readonly followup: PgFollowupStore;
  readonly users: SqlUserStore;
  readonly audit: PgAuditStore;
  readonly rollouts: SqlRolloutStore;
  readonly leases: SqlLeaseStore;
  readonly verdicts: PgVerdictStore;
  readonly opsAlerts: SqlOpsAlertStore;
  readonly pki: SqlPkiStore;
  readonly counters: PgCounters;
  private readonly pool: pg.Pool;
  /** When this replica last wrote each device's last-seen time (its clock). */
  private readonly lastSeenWrittenMs = new Map<string, number>();

  constructor(private readonly location: PostgresLocation) {
    this.pool = openPgPool(location);
    this.audit = new PgAuditStore(this.pool);
    this.verdicts = new PgVerdictStore(this.pool);
    const port = new PgSqlPort(this.pool);
    this.users = new SqlUserStore(port);
    this.opsAlerts = new SqlOpsAlertStore(port);
    this.pki = new SqlPkiStore(port);
    this.rollouts = new SqlRolloutStore(port);
    this.leases = new SqlLeaseStore(port);
    this.followup = new PgFollowupStore(this.pool, port);
    this.counters = new PgCounters(this.pool);
  }

  open(): Promise<void> {
    return openPgSchema(this.pool, this.location);
  }

  async addDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord> {
    const createdAt = new Date().toISOString();
    return coded('addDevice', async () => {
      try {
        await this.pool.query(
          'INSERT INTO devices (device_id, clinic_id, password_hash, tags_json, created_at) VALUES ($1, $2, $3, $4, $5)',
          [device.deviceId, device.clinicId, device.passwordHash, JSON.stringify(device.tags), createdAt],
        );
      } catch (error) {
        if ((error as { code?: string }).code === UNIQUE_VIOLATION) {
          throw new VigilError('VIGIL_DEVICE_EXISTS', `device ${device.deviceId} is already registered`);
        }
        throw error;
      }
      return { ...device, createdAt, revokedAt: null };
    });
  }

  async getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    const [row] = await rows(this.pool, 'getDevice', 'SELECT * FROM devices WHERE device_id = $1', [deviceId]);
    return row ? toDevice(row) : undefined;
  }

  async listDevices(): Promise<DeviceRecord[]> {
    const sql = 'SELECT * FROM devices ORDER BY clinic_id COLLATE "C", device_id COLLATE "C"';
    return (await rows(this.pool, 'listDevices', sql)).map(toDevice);
  }

  async revokeDevice(deviceId: string): Promise<boolean> {
    const sql = 'UPDATE devices SET revoked_at = $1 WHERE device_id = $2 AND revoked_at IS NULL';
    return (await changed(this.pool, 'revokeDevice', sql, [new Date().toISOString(), deviceId])) === 1;
  }

  async listDeviceStates(): Promise<DeviceState[]> {
    const sql = 'SELECT * FROM device_state ORDER BY clinic_id COLLATE "C", device_id COLLATE "C"';
    return (await rows(this.pool, 'listDeviceStates', sql)).map(toDeviceState);
  }

  /**
   * One transaction per batch, a fixed number of statements whatever its size: results go in as
   * arrays (`unnest`), idempotent on the message id (`ON CONFLICT DO NOTHING`), so a replay after a
   * lost acknowledgement stores nothing twice.
   *
   * With replicas, two batches touching the same devices would take those devices' rows in
   * different orders across several statements and deadlock (seen in the two-replica benchmark:
   * PostgreSQL aborted one batch). So a batch that writes device rows first takes a
   * transaction-scoped advisory lock per device it writes, in sorted order, in one statement:
   * overlapping batches queue instead. A batch of results alone mostly writes no device row
   * (`lastSeenDue`), takes no lock, and commits beside the others.
   */
  commitIngest(batch: IngestBatch): Promise<IngestCommitSummary> {
    const at = batch.receivedAt;
    const startedMs = Date.now();
    // Results go in in message-id order: two batches carrying the same redelivered results then meet
    // them in the same order and wait for each other instead of deadlocking.
    const r = [...batch.results].sort((x, y) => byCodeUnit(x.messageId, y.messageId));
    const seen = this.lastSeenDue(batch, startedMs);
    const committed = inTransaction(this.pool, 'commitIngest', async (c) => {
      const writers = [...batch.telemetry, ...batch.statuses, ...batch.modelReports].map((x) => x.deviceId);
      const devices = [...new Set([...seen.keys(), ...writers])].sort();
      if (devices.length > 0) {
        // unnest yields the sorted array in order, so the locks are taken in that order.
        await c.query("SELECT pg_advisory_xact_lock(hashtext('vigil.device:' || d)) FROM unnest($1::text[]) AS d", [devices]);
      }
      const resultsInserted = await insertResults(c, r, at);
      for (const t of batch.telemetry) {
        await c.query(
          `INSERT INTO device_state (device_id, clinic_id, last_telemetry_json, last_telemetry_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (device_id) DO UPDATE SET last_telemetry_json = EXCLUDED.last_telemetry_json,
              last_telemetry_at = EXCLUDED.last_telemetry_at
            WHERE coalesce(device_state.last_telemetry_at, '') <= EXCLUDED.last_telemetry_at`,
          [t.deviceId, t.clinicId, JSON.stringify(t), t.sampledAt],
        );
      }
      if (seen.size > 0) {
        await c.query(
          `INSERT INTO device_state (device_id, clinic_id, last_seen_at) SELECT d, c, $3 FROM unnest($1::text[], $2::text[]) AS t(d, c)
            ON CONFLICT (device_id) DO UPDATE
              SET last_seen_at = greatest(coalesce(device_state.last_seen_at, ''), EXCLUDED.last_seen_at)`,
          [[...seen.keys()], [...seen.values()], at],
        );
      }
      for (const s of batch.statuses) {
        await c.query(
          `INSERT INTO device_state (device_id, clinic_id, status, status_at, agent_version, model_name, model_version)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (device_id) DO UPDATE SET status = EXCLUDED.status, status_at = EXCLUDED.status_at,
              agent_version = coalesce(nullif(EXCLUDED.agent_version, ''), device_state.agent_version),
              model_name = coalesce(EXCLUDED.model_name, device_state.model_name),
              model_version = coalesce(EXCLUDED.model_version, device_state.model_version)
            WHERE coalesce(device_state.status_at, '') <= EXCLUDED.status_at`,
          [s.deviceId, s.clinicId, s.state, s.at, s.agentVersion, s.model?.name ?? null, s.model?.version ?? null],
        );
      }
      for (const m of batch.modelReports) {
        await c.query(
          `INSERT INTO device_state (device_id, clinic_id, model_reported_json, model_reported_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (device_id) DO UPDATE SET model_reported_json = EXCLUDED.model_reported_json,
              model_reported_at = EXCLUDED.model_reported_at
            WHERE coalesce(device_state.model_reported_at, '') <= EXCLUDED.model_reported_at`,
          [m.deviceId, m.clinicId, JSON.stringify(m), m.at],
        );
      }
      const d = batch.deadLetters;
      if (d.length > 0) {
        await c.query(
          `INSERT INTO dead_letters (received_at, topic, client_id, code, reason, payload_bytes, payload_sha256, payload_excerpt)
            SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[], $8::bytea[])`,
          [
            d.map((x) => x.receivedAt),
            d.map((x) => x.topic),
            d.map((x) => x.clientId),
            d.map((x) => x.code),
            d.map((x) => x.reason),
            d.map((x) => x.payloadBytes),
            d.map((x) => x.payloadSha256),
            d.map((x) => x.payloadExcerpt),
          ],
        );
      }
      return { resultsInserted, resultsDuplicate: r.length - resultsInserted };
    });
    // Not written after all: the next batch writes it.
    return committed.catch((error: unknown) => {
      for (const deviceId of seen.keys()) this.lastSeenWrittenMs.delete(deviceId);
      throw error;
    });
  }

  /**
   * The devices whose last-seen time this batch writes: those that sent telemetry, and those with
   * results whose stored time this replica last wrote over `LAST_SEEN_EVERY_MS` ago. A device row
   * written in a transaction is locked until its commit, so writing every device's row in every batch
   * made the batches of a busy fleet commit one after another, each waiting for the last one's disk
   * flush; now most batches write only their results, and commits overlap (issue 30).
   */
  private lastSeenDue(batch: IngestBatch, nowMs: number): Map<string, string> {
    const due = new Map<string, string>();
    for (const x of batch.results) {
      if (due.has(x.deviceId)) continue;
      const written = this.lastSeenWrittenMs.get(x.deviceId);
      if (written === undefined || nowMs - written >= LAST_SEEN_EVERY_MS) due.set(x.deviceId, x.clinicId);
    }
    for (const t of batch.telemetry) due.set(t.deviceId, t.clinicId);
    // Noted now, so the batches committing beside this one leave these rows alone.
    for (const deviceId of due.keys()) this.lastSeenWrittenMs.set(deviceId, nowMs);
    return due;
  }

  async countResults(): Promise<number> {
    return Number((await rows(this.pool, 'countResults', 'SELECT COUNT(*) AS n FROM results'))[0]?.n ?? 0);
  }

  async listResultIds(): Promise<string[]> {
    return (await rows(this.pool, 'listResultIds', 'SELECT message_id FROM results ORDER BY message_id')).map(
      (r) => r.message_id as string,
    );
  }

  async getResult(messageId: string): Promise<StoredResult | undefined> {
    const sql = 'SELECT body_json, received_at FROM results WHERE message_id = $1';
    const [row] = await rows(this.pool, 'getResult', sql, [messageId]);
    return row ? toStoredResult(row) : undefined;
  }

  async queryResults(filter: ResultFilter): Promise<Page<StoredResult>> {
    const p = new Params();
    const where: string[] = [];
    for (const [condition, value] of resultConditions(filter)) where.push(`${condition} ${p.add(value)}`);
    if (!filter.includeShadow) where.push('shadow = FALSE');
    if (filter.clinicScope) where.push(pgFragment(p, resultScope(filter.clinicScope)));
    const after = decodeCursor(filter.cursor, 2);
    if (after) where.push(`(created_at, message_id) < (${p.add(after[0])}, ${p.add(after[1])})`);
    const sql = `SELECT message_id, created_at, received_at, body_json FROM results
      ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, message_id DESC LIMIT ${p.add(filter.limit + 1)}`;
    const found = await rows(this.pool, 'queryResults', sql, p.values);
    return toPage(found, filter.limit, toStoredResult, (r) => [r.created_at as string, r.message_id as string]);
  }

  async modelResults(f: ModelResultFilter): Promise<{ score: number; totalMs: number }[]> {
    if (f.deviceIds.length === 0) return [];
    const p = new Params();
    const where = [
      `model_name = ${p.add(f.modelName)}`,
      `shadow = ${p.add(f.shadow)}`,
      `device_id = ANY(${p.add(f.deviceIds)}::text[])`,
    ];
    for (const [condition, value] of modelResultConditions(f)) where.push(`${condition} ${p.add(value)}`);
    const sql = `SELECT score, body_json FROM results WHERE ${where.join(' AND ')} ORDER BY created_at DESC LIMIT ${p.add(f.limit)}`;
    return (await rows(this.pool, 'modelResults', sql, p.values)).map((r) => ({
      score: Number(r.score),
      totalMs: totalMsOf(r.body_json as string),
    }));
  }

  async listDeadLetters(limit: number): Promise<DeadLetter[]> {
    return (await rows(this.pool, 'listDeadLetters', 'SELECT * FROM dead_letters ORDER BY id DESC LIMIT $1', [limit])).map(
      toDeadLetter,
    );
  }

  async ping(): Promise<void> {
    await rows(this.pool, 'ping', 'SELECT 1');
  }

  close(): Promise<void> {
    return this.pool.end();
  }
}
