import type { ModelPackageRecord, RolloutCommand, RolloutDevice, RolloutRecord } from '../rollout/rollout-store.js';
import { str } from './user-rows.js';

type Row = Record<string, unknown>;

export function toPackage(r: Row): ModelPackageRecord {
  return {
    name: r.name as string,
    version: r.version as string,
    sha256: r.sha256 as string,
    sizeBytes: Number(r.size_bytes),
    keyId: r.key_id as string,
    signature: r.signature as string,
    file: r.file as string,
    publishedBy: r.published_by as string,
    publishedAt: r.published_at as string,
  };
}

export function toRollout(r: Row): RolloutRecord {
  return {
    rolloutId: r.rollout_id as string,
    model: { name: r.model_name as string, version: r.model_version as string },
    mode: r.mode as RolloutRecord['mode'],
    spec: JSON.parse(r.spec_json as string) as RolloutRecord['spec'],
    state: r.state as RolloutRecord['state'],
    currentWave: Number(r.current_wave),
    waveStartedAt: str(r.wave_started_at),
    reason: str(r.reason),
    gates: JSON.parse(r.gates_json as string) as RolloutRecord['gates'],
    createdBy: r.created_by as string,
    createdAt: r.created_at as string,
    updatedAt: r.updated_at as string,
    finishedAt: str(r.finished_at),
  };
}

export function toDevice(r: Row): RolloutDevice {
  return {
    rolloutId: r.rollout_id as string,
    deviceId: r.device_id as string,
    clinicId: r.clinic_id as string,
    wave: Number(r.wave),
    previous: r.previous_json ? (JSON.parse(r.previous_json as string) as RolloutDevice['previous']) : null,
    state: r.state as RolloutDevice['state'],
    reason: str(r.reason),
    baseline: r.baseline_json ? (JSON.parse(r.baseline_json as string) as RolloutDevice['baseline']) : null,
    updatedAt: r.updated_at as string,
  };
}

/** The column of each updatable rollout field. */
export const ROLLOUT_COLUMNS = {
  state: 'state',
  currentWave: 'current_wave',
  waveStartedAt: 'wave_started_at',
  reason: 'reason',
  gates: 'gates_json',
  finishedAt: 'finished_at',
} as const;

/** The rollouts columns in insert order, and a record's values for them (the same table on every engine). */
export const ROLLOUT_INSERT_COLUMNS =
  'rollout_id, model_name, model_version, mode, spec_json, state, current_wave, wave_started_at, reason, gates_json, created_by, created_at, updated_at, finished_at';

export function rolloutRowValues(r: RolloutRecord): (string | number | null)[] {
  return [
    r.rolloutId,
    r.model.name,
    r.model.version,
    r.mode,
    JSON.stringify(r.spec),
    r.state,
    r.currentWave,
    r.waveStartedAt,
    r.reason,
    JSON.stringify(r.gates),
    r.createdBy,
    r.createdAt,
    r.updatedAt,
    r.finishedAt,
  ];
}

export function toCommand(r: Row): RolloutCommand {
  return {
    commandId: r.command_id as string,
    action: r.action as RolloutCommand['action'],
    input: JSON.parse(r.input_json as string),
    requestedBy: r.requested_by as string,
    requestedAt: r.requested_at as string,
    claimedBy: str(r.claimed_by),
    doneAt: str(r.done_at),
    outcome: r.outcome_json ? (JSON.parse(r.outcome_json as string) as RolloutCommand['outcome']) : null,
  };
}
