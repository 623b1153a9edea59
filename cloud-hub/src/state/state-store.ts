import type { AuditStore } from '../audit/audit-store.js';
import type { UserStore } from '../auth/user-store.js';
import type { DeviceStore } from '../broker/device-store.js';
import type { CounterStore } from '../cluster/counter-store.js';
import type { LeaseStore } from '../cluster/lease-store.js';
import type { FollowupStore } from '../followup/followup-store.js';
import type { IngestStore } from '../ingest/ingest-store.js';
import type { OpsAlertStore } from '../ops/ops-alert-store.js';
import type { PkiStore } from '../pki/pki-store.js';
import type { ResultStore } from '../results/result-store.js';
import type { RolloutStore } from '../rollout/rollout-store.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';

/**
 * The hub's state repository, one implementation per engine under storage/: SQLite (embedded, the
 * default) and PostgreSQL (a hospital's own database server; shared by hub replicas). Both pass
 * the same contract suite. It is the sum of the features' own store interfaces; a feature receives
 * only the one it uses.
 */
export interface StateStore extends DeviceStore, ResultStore, IngestStore {
  readonly driver: StateLocation['driver'];
  /** Connects and brings the schema up to date (migrations); call once before anything else. */
  open(): Promise<void>;
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
