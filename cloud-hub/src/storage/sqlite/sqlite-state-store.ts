import { VigilError } from '@vigil/shared';
import type Database from 'better-sqlite3';
import type { DeviceRecord, DeviceState } from '../../broker/device-store.js';
import { MemoryCounters } from '../../cluster/counter-store.js';
import type { DeadLetter, IngestBatch, IngestCommitSummary } from '../../ingest/ingest-store.js';
import type { ModelResultFilter, ResultFilter, StoredResult } from '../../results/result-store.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import type { StateStore } from '../../state/state-store.js';
import { modelResultConditions, resultConditions, resultScope } from '../query-conditions.js';
import { SqlLeaseStore } from '../sql/sql-lease-store.js';
import { SqlOpsAlertStore } from '../sql/sql-ops-alert-store.js';
import { SqlPkiStore } from '../sql/sql-pki-store.js';
import { SqlRolloutStore } from '../sql/sql-rollout-store.js';
import { SqlUserStore } from '../sql/sql-user-store.js';
import { toDeadLetter, toDevice, toDeviceState, toStoredResult, totalMsOf } from '../state-rows.js';
import { DurableSqlite } from './durable-sqlite.js';
import { SqliteAuditStore } from './sqlite-audit-store.js';
import { SqliteFollowupStore } from './sqlite-followup-store.js';
import { SQLITE_MIGRATIONS } from './sqlite-migrations.js';
import { SqliteSqlPort } from './sqlite-sql-port.js';
import { SqliteVerdictStore } from './sqlite-verdict-store.js';
import { stateDurable, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

/** Embedded state store: better-sqlite3 in WAL mode, synchronous=FULL so a commit survives power loss. */
export class SqliteStateStore implements StateStore {
  readonly driver = 'sqlite';
  private readonly store: DurableSqlite;
  private readonly db: Database.Database;
  private readonly s;
  readonly followup: SqliteFollowupStore;
  readonly users: SqlUserStore;
  readonly audit: SqliteAuditStore;
  readonly rollouts: SqlRolloutStore;
  readonly leases: SqlLeaseStore;
  readonly verdicts: SqliteVerdictStore;
  readonly opsAlerts: SqlOpsAlertStore;
  readonly pki: SqlPkiStore;
  /** One SQLite hub is one process: its counters are the process's. */
  readonly counters = new MemoryCounters();

  constructor(path: string) {
    this.store = new DurableSqlite(path);
    this.db = this.store.db;
    this.migrate();
    const db = this.db;
    const durable = (what: string) => this.durable(what);
    this.audit = new SqliteAuditStore(db, durable);
    this.verdicts = new SqliteVerdictStore(db, durable);
    const port = new SqliteSqlPort(db, durable);
    this.users = new SqlUserStore(port);
    this.opsAlerts = new SqlOpsAlertStore(port);
    this.pki = new SqlPkiStore(port);
    this.rollouts = new SqlRolloutStore(port);
    this.leases = new SqlLeaseStore(port);
    this.followup = new SqliteFollowupStore(db, durable, port);
    this.s = {
      insertDevice: db.prepare(
        'INSERT INTO devices (device_id, clinic_id, password_hash, tags_json, created_at) VALUES (?, ?, ?, ?, ?)',
      ),
      getDevice: db.prepare('SELECT * FROM devices WHERE device_id = ?'),
      listDevices: db.prepare('SELECT * FROM devices ORDER BY clinic_id, device_id'),
      revoke: db.prepare('UPDATE devices SET revoked_at = ? WHERE device_id = ? AND revoked_at IS NULL'),
      insertResult: db.prepare(`INSERT OR IGNORE INTO results
        (message_id, clinic_id, device_id, patient_key, study_key, instance_key, study_date, laterality, view,
         model_name, model_version, score, shadow, created_at, received_at, body_json)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      touch: db.prepare(`INSERT INTO device_state (device_id, clinic_id, last_seen_at) VALUES (?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET last_seen_at = max(coalesce(last_seen_at, ''), excluded.last_seen_at)`),
      telemetry: db.prepare(`INSERT INTO device_state (device_id, clinic_id, last_telemetry_json, last_telemetry_at)
        VALUES (?, ?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET last_telemetry_json = excluded.last_telemetry_json,
          last_telemetry_at = excluded.last_telemetry_at
        WHERE coalesce(last_telemetry_at, '') <= excluded.last_telemetry_at`),
      status:
        db.prepare(`INSERT INTO device_state (device_id, clinic_id, status, status_at, agent_version, model_name, model_version)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET status = excluded.status, status_at = excluded.status_at,
          agent_version = coalesce(nullif(excluded.agent_version, ''), agent_version),
          model_name = coalesce(excluded.model_name, model_name), model_version = coalesce(excluded.model_version, model_version)
        WHERE coalesce(status_at, '') <= excluded.status_at`),
      modelReported: db.prepare(`INSERT INTO device_state (device_id, clinic_id, model_reported_json, model_reported_at)
        VALUES (?, ?, ?, ?)
        ON CONFLICT(device_id) DO UPDATE SET model_reported_json = excluded.model_reported_json,
          model_reported_at = excluded.model_reported_at
        WHERE coalesce(model_reported_at, '') <= excluded.model_reported_at`),
      deadLetter: db.prepare(`INSERT INTO dead_letters
        (received_at, topic, client_id, code, reason, payload_bytes, payload_sha256, payload_excerpt)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
      listStates: db.prepare('SELECT * FROM device_state ORDER BY clinic_id, device_id'),
      countResults: db.prepare('SELECT COUNT(*) AS n FROM results'),
      resultIds: db.prepare('SELECT message_id FROM results ORDER BY message_id'),
      getResult: db.prepare('SELECT body_json, received_at FROM results WHERE message_id = ?'),
      deadLetters: db.prepare('SELECT * FROM dead_letters ORDER BY id DESC LIMIT ?'),
    };
  }

  /** Migrations already ran in the constructor (SQLite opens synchronously). */
  open(): Promise<void> {
    return Promise.resolve();
  }

  private migrate(): void {
    this.db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT, applied_at TEXT)');
    const applied = new Set(
      (this.db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version),
    );
    for (const migration of SQLITE_MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      this.db.transaction(() => {
        this.db.exec(migration.sql);
        this.db
          .prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
          .run(migration.version, migration.name, new Date().toISOString());
      })();
    }
  }

  async addDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord> {
    const added = await this.insertDevice(device);
    await this.durable('addDevice');
    return added;
  }

  private insertDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord> {
    return wrap('addDevice', () => {
      const createdAt = new Date().toISOString();
      try {
        this.s.insertDevice.run(device.deviceId, device.clinicId, device.passwordHash, JSON.stringify(device.tags), createdAt);
      } catch (error) {
        if ((error as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new VigilError('VIGIL_DEVICE_EXISTS', `device ${device.deviceId} is already registered`);
        }
        throw error;
      }
      return { ...device, createdAt, revokedAt: null };
    });
  }

  getDevice(deviceId: string): Promise<DeviceRecord | undefined> {
    return wrap('getDevice', () => {
      const row = this.s.getDevice.get(deviceId) as Row | undefined;
      return row ? toDevice(row) : undefined;
    });
  }

  listDevices(): Promise<DeviceRecord[]> {
    return wrap('listDevices', () => (this.s.listDevices.all() as Row[]).map(toDevice));
  }

  async revokeDevice(deviceId: string): Promise<boolean> {
    const revoked = await wrap('revokeDevice', () => this.s.revoke.run(new Date().toISOString(), deviceId).changes === 1);
    await this.durable('revokeDevice');
    return revoked;
  }

  listDeviceStates(): Promise<DeviceState[]> {
    return wrap('listDeviceStates', () => (this.s.listStates.all() as Row[]).map(toDeviceState));
  }

  async commitIngest(batch: IngestBatch): Promise<IngestCommitSummary> {
    const summary = await this.commitBatch(batch);
    await this.durable('commitIngest');
    return summary;
  }

  private durable(what: string): Promise<void> {
    return stateDurable(this.store)(what);
  }

  private commitBatch(batch: IngestBatch): Promise<IngestCommitSummary> {
    return wrap('commitIngest', () =>
      this.db.transaction((): IngestCommitSummary => {
        const at = batch.receivedAt;
        let resultsInserted = 0;
        const seen = new Map<string, string>();
        for (const r of batch.results) {
          resultsInserted += this.s.insertResult.run(
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
            r.shadow ? 1 : 0,
            r.createdAt,
            at,
            JSON.stringify(r),
          ).changes;
          seen.set(r.deviceId, r.clinicId);
        }
        for (const t of batch.telemetry) {
          this.s.telemetry.run(t.deviceId, t.clinicId, JSON.stringify(t), t.sampledAt);
          seen.set(t.deviceId, t.clinicId);
        }
        for (const [deviceId, clinicId] of seen) this.s.touch.run(deviceId, clinicId, at);
        for (const s of batch.statuses) {
          this.s.status.run(
            s.deviceId,
            s.clinicId,
            s.state,
            s.at,
            s.agentVersion,
            s.model?.name ?? null,
            s.model?.version ?? null,
          );
        }
        for (const m of batch.modelReports) this.s.modelReported.run(m.deviceId, m.clinicId, JSON.stringify(m), m.at);
        for (const d of batch.deadLetters) {
          this.s.deadLetter.run(
            d.receivedAt,
            d.topic,
            d.clientId,
            d.code,
            d.reason,
            d.payloadBytes,
            d.payloadSha256,
            d.payloadExcerpt,
          );
        }
        return { resultsInserted, resultsDuplicate: batch.results.length - resultsInserted };
      })(),
    );
  }

  countResults(): Promise<number> {
    return wrap('countResults', () => (this.s.countResults.get() as { n: number }).n);
  }

  listResultIds(): Promise<string[]> {
    return wrap('listResultIds', () => (this.s.resultIds.all() as { message_id: string }[]).map((r) => r.message_id));
  }

  getResult(messageId: string): Promise<StoredResult | undefined> {
    return wrap('getResult', () => {
      const row = this.s.getResult.get(messageId) as Row | undefined;
      return row ? toStoredResult(row) : undefined;
    });
  }

  queryResults(filter: ResultFilter): Promise<Page<StoredResult>> {
    return wrap('queryResults', () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      for (const [condition, value] of resultConditions(filter)) {
        where.push(`${condition} ?`);
        args.push(value);
      }
      if (!filter.includeShadow) where.push('shadow = 0');
      if (filter.clinicScope) {
        const scope = resultScope(filter.clinicScope);
        where.push(scope.sql);
        args.push(...scope.values);
      }
      const after = decodeCursor(filter.cursor, 2);
      if (after) {
        where.push('(created_at, message_id) < (?, ?)');
        args.push(after[0] as string, after[1] as string);
      }
      const rows = this.db
        .prepare(`SELECT message_id, created_at, received_at, body_json FROM results
          ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY created_at DESC, message_id DESC LIMIT ?`)
        .all(...args, filter.limit + 1) as Row[];
      return toPage(rows, filter.limit, toStoredResult, (r) => [r.created_at as string, r.message_id as string]);
    });
  }

  modelResults(f: ModelResultFilter): Promise<{ score: number; totalMs: number }[]> {
    return wrap('modelResults', () => {
      if (f.deviceIds.length === 0) return [];
      const where = ['model_name = ?', 'shadow = ?', `device_id IN (${f.deviceIds.map(() => '?').join(', ')})`];
      const args: (string | number)[] = [f.modelName, f.shadow ? 1 : 0, ...f.deviceIds];
      for (const [condition, value] of modelResultConditions(f)) {
        where.push(`${condition} ?`);
        args.push(value);
      }
      const rows = this.db
        .prepare(`SELECT score, body_json FROM results WHERE ${where.join(' AND ')} ORDER BY created_at DESC LIMIT ?`)
        .all(...args, f.limit) as { score: number; body_json: string }[];
      return rows.map((r) => ({ score: r.score, totalMs: totalMsOf(r.body_json) }));
    });
  }

  listDeadLetters(limit: number): Promise<DeadLetter[]> {
    return wrap('listDeadLetters', () => (this.s.deadLetters.all(limit) as Row[]).map(toDeadLetter));
  }

  ping(): Promise<void> {
    return wrap('ping', () => {
      this.db.prepare('SELECT 1').get();
    });
  }

  close(): Promise<void> {
    return this.store.close();
  }
}
