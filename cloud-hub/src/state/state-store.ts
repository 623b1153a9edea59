import type { ModelReportedMessage, ResultMessage, StatusMessage, TelemetryMessage } from '@vigil/shared';

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

/**
 * The hub's state repository. SQLite (embedded) implements it today; PostgreSQL for multi-replica
 * hubs implements the same interface and migration set.
 */
export interface StateStore {
  readonly driver: string;
  addDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(): Promise<DeviceRecord[]>;
  revokeDevice(deviceId: string): Promise<boolean>;
  listDeviceStates(): Promise<DeviceState[]>;
  commitIngest(batch: IngestBatch): Promise<IngestCommitSummary>;
  countResults(): Promise<number>;
  listResultIds(): Promise<string[]>;
  getResult(messageId: string): Promise<StoredResult | undefined>;
  listDeadLetters(limit: number): Promise<DeadLetter[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
}
