import type { ModelReportedMessage, ResultMessage, StatusMessage, TelemetryMessage } from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import type { UserStore } from '../auth/user-store.js';
import type { CounterStore } from '../cluster/counter-store.js';
import type { LeaseStore } from '../cluster/lease-store.js';
import type { FollowupStore } from '../followup/followup-store.js';
import type { OpsAlertStore } from '../ops/ops-alert-store.js';
import type { PkiStore } from '../pki/pki-store.js';
import type { RolloutStore } from '../rollout/rollout-store.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';
import type { Page } from './pagination.js';

export interface DeviceRecord {
  clinicId: string;
  deviceId: string;
  passwordHash: string;
  tags: string[];
  createdAt: string;
  revokedAt: string | null;
}

export interface DeviceState {
  clinicId: string;
  deviceId: string;
  status: 'online' | 'offline' | 'unknown';
  statusAt: string | null;
  agentVersion: string | null;
  /** The model the device said it runs in its latest status. */
  model: { name: string; version: string } | null;
  lastSeenAt: string | null;
  lastTelemetry: TelemetryMessage | null;
  modelReported: ModelReportedMessage | null;
}

export interface DeadLetter {
  receivedAt: string;
  topic: string;
  clientId: string;
  code: string;
  reason: string;
  payloadBytes: number;
  payloadSha256: string;
  /** At most the first 4 KiB, for diagnosis; the full payload is never kept (it may be hostile). */
  payloadExcerpt: Buffer;
}

/** One flush of the ingest pipeline, committed atomically. */
export interface IngestBatch {
  results: ResultMessage[];
  telemetry: TelemetryMessage[];
  statuses: StatusMessage[];
  modelReports: ModelReportedMessage[];
  deadLetters: DeadLetter[];
  receivedAt: string;
}

export interface IngestCommitSummary {
  resultsInserted: number;
  resultsDuplicate: number;
}

export interface StoredResult extends ResultMessage {
  receivedAt: string;
}

export interface ResultFilter {
  clinicId?: string;
  deviceId?: string;
  patientKey?: string;
  /** ISO timestamps bounding createdAt: from inclusive, to exclusive. */
  from?: string;
  to?: string;
  minScore?: number;
  /** Shadow-mode results are for ops comparisons only; clinicians never see them. */
  includeShadow?: boolean;
  /** A clinic-scoped user's clinics: only patients seen at one of them (absent: the whole network). */
  clinicScope?: readonly string[];
  limit: number;
  cursor?: string;
}

/** Selects one model's results for the rollout health gates. */
export interface ModelResultFilter {
  modelName: string;
  /** Exactly this version… */
  modelVersion?: string;
  /** …or any version but this one (the previous models, for a baseline). */
  excludeVersion?: string;
  shadow: boolean;
  deviceIds: readonly string[];
  createdFrom?: string;
  createdBefore?: string;
  limit: number;
}

/**
 * The hub's state repository, one implementation per engine under storage/: SQLite (embedded, the
 * default) and PostgreSQL (a hospital's own database server; shared by hub replicas). Both pass
 * the same contract suite.
 */
export interface StateStore {
  readonly driver: StateLocation['driver'];
  /** Connects and brings the schema up to date (migrations); call once before anything else. */
  open(): Promise<void>;
  addDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(): Promise<DeviceRecord[]>;
  revokeDevice(deviceId: string): Promise<boolean>;
  listDeviceStates(): Promise<DeviceState[]>;
  commitIngest(batch: IngestBatch): Promise<IngestCommitSummary>;
  countResults(): Promise<number>;
  listResultIds(): Promise<string[]>;
  getResult(messageId: string): Promise<StoredResult | undefined>;
  queryResults(filter: ResultFilter): Promise<Page<StoredResult>>;
  /** Score and total latency (ms) of a model's results, newest first. */
  modelResults(filter: ModelResultFilter): Promise<{ score: number; totalMs: number }[]>;
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
  readonly followup: FollowupStore;
  readonly users: UserStore;
  readonly audit: AuditStore;
  readonly rollouts: RolloutStore;
  readonly leases: LeaseStore;
  /** Clinicians' verdicts on findings and studies (append-only). */
  readonly verdicts: VerdictStore;
  /** Alerts for ops: real changes in real-world model performance. */
  readonly opsAlerts: OpsAlertStore;
  /** The device CA's enrolment tokens and issued certificates. */
  readonly pki: PkiStore;
  /** Rate limits and failed-login lockouts: the process's with SQLite, the database's with PostgreSQL (shared by replicas). */
  readonly counters: CounterStore;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Where the state lives, in a form any thread can be handed (the follow-up worker opens its own
 * connection from it). One variant per engine; storage/ opens them.
 */
export type StateLocation = SqliteLocation | PostgresLocation;

export interface SqliteLocation {
  driver: 'sqlite';
  path: string;
}

export interface PostgresLocation {
  driver: 'postgres';
  /** postgres://user[:password]@host:port/database[?sslmode=…] */
  url: string;
  /** disable | prefer | require | verify-ca | verify-full (empty: the URL's, else prefer). */
  sslmode: string;
  /** CA bundle that signs the server's certificate (verify-ca, verify-full). */
  caFile: string;
  poolSize: number;
  connectTimeoutMs: number;
  /** A statement that takes longer fails (a hung server must not hold ingest forever). */
  statementTimeoutMs: number;
}
