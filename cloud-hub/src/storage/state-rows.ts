import type { ModelReportedMessage, ResultMessage, TelemetryMessage } from '@vigil/shared';
import type { DeviceRecord, DeviceState } from '../broker/device-store.js';
import type { DeadLetter } from '../ingest/ingest-store.js';
import type { StoredResult } from '../results/result-store.js';
import { str } from './user-rows.js';

type Row = Record<string, unknown>;

export function toDevice(row: Row): DeviceRecord {
  return {
    deviceId: row.device_id as string,
    clinicId: row.clinic_id as string,
    passwordHash: row.password_hash as string,
    tags: JSON.parse(row.tags_json as string) as string[],
    createdAt: row.created_at as string,
    revokedAt: str(row.revoked_at),
  };
}

export function toDeviceState(row: Row): DeviceState {
  const modelName = str(row.model_name);
  const modelVersion = str(row.model_version);
  const telemetry = str(row.last_telemetry_json);
  const reported = str(row.model_reported_json);
  return {
    clinicId: row.clinic_id as string,
    deviceId: row.device_id as string,
    status: (str(row.status) ?? 'unknown') as DeviceState['status'],
    statusAt: str(row.status_at),
    agentVersion: str(row.agent_version),
    model: modelName && modelVersion ? { name: modelName, version: modelVersion } : null,
    lastSeenAt: str(row.last_seen_at),
    lastTelemetry: telemetry ? (JSON.parse(telemetry) as TelemetryMessage) : null,
    modelReported: reported ? (JSON.parse(reported) as ModelReportedMessage) : null,
  };
}

export function toDeadLetter(row: Row): DeadLetter {
  return {
    receivedAt: row.received_at as string,
    topic: row.topic as string,
    clientId: row.client_id as string,
    code: row.code as string,
    reason: row.reason as string,
    payloadBytes: Number(row.payload_bytes),
    payloadSha256: row.payload_sha256 as string,
    payloadExcerpt: row.payload_excerpt as Buffer,
  };
}

export function toStoredResult(row: Row): StoredResult {
  return { ...(JSON.parse(row.body_json as string) as ResultMessage), receivedAt: row.received_at as string };
}

/** Total decode + preprocess + inference time of a stored result (the rollout latency gate). */
export function totalMsOf(bodyJson: string): number {
  const t = (JSON.parse(bodyJson) as ResultMessage).timingsMs;
  return t.decode + t.preprocess + t.infer;
}
