import type { ModelDesiredMessage } from '@vigil/shared';
import type { LeaseFence } from '../cluster/lease-store.js';

export interface ModelPackageRecord {
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  keyId: string;
  signature: string;
  /** File name inside the hub's model directory. */
  file: string;
  publishedBy: string;
  publishedAt: string;
}

export type RolloutState = 'running' | 'paused' | 'completed' | 'aborted' | 'rolling-back' | 'rolled-back';
export type RolloutMode = 'active' | 'shadow';
export type RolloutDeviceState = 'pending' | 'desired' | 'installed' | 'failed' | 'rolling-back' | 'rolled-back';

export interface GateThresholds {
  /** Install failures (failed download, signature or self-test) tolerated across the rollout. */
  maxInstallFailures: number;
  /** (failed + quarantined) / received on updated devices since their wave started. */
  maxErrorRate: number;
  /** p95 of decode + preprocess + infer of the candidate's results. */
  maxP95LatencyMs: number;
  /** Population stability index of the candidate's scores against the previous model's. */
  maxPsi: number;
  /** Results of the candidate needed before the drift and latency gates can pass a wave. */
  minSamples: number;
  /**
   * Shadow mode: images clinicians reviewed (with the candidate's result on them) before the
   * verdict-agreement gate passes a wave. 0: the gate never holds, but still trips on clear evidence.
   */
  minVerdicts: number;
}

export type WaveSize = { devices: number } | { percent: number };

export interface RolloutSpec {
  cohort: { clinics: string[]; tags: string[] };
  /** Cumulative size after each wave: a device count or a percentage of the cohort (the last is 100 %). */
  waves: WaveSize[];
  bakeS: number;
  gates: GateThresholds;
  onTrip: 'pause' | 'rollback';
}

export interface GateFigure {
  gate: 'install-failures' | 'error-rate' | 'p95-latency' | 'score-drift' | 'verdict-agreement';
  value: number | null;
  threshold: number;
  /** `waiting`: not enough data yet to pass (never a reason to roll back). */
  status: 'pass' | 'fail' | 'waiting';
  samples: number;
  /** What the figure means, when a number and its threshold do not say it (the verdict gate). */
  detail?: string;
}

export interface RolloutRecord {
  rolloutId: string;
  model: { name: string; version: string };
  mode: RolloutMode;
  spec: RolloutSpec;
  state: RolloutState;
  currentWave: number;
  waveStartedAt: string | null;
  reason: string | null;
  gates: GateFigure[];
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface RolloutDevice {
  rolloutId: string;
  deviceId: string;
  clinicId: string;
  wave: number;
  previous: { name: string; version: string } | null;
  state: RolloutDeviceState;
  reason: string | null;
  /** Pipeline counters when the device's wave started (for the error-rate gate). */
  baseline: { received: number; failed: number; quarantined: number } | null;
  updatedAt: string;
}

export type RolloutAction = 'start' | 'pause' | 'resume' | 'abort' | 'rollback';

/** What became of an operator's command: the action's result, or its coded error. */
export type RolloutCommandOutcome = { ok: true; value: unknown } | { ok: false; code: string; message: string };

/**
 * An operator's rollout action, handed through the database to the replica that holds the rollout
 * lease, so every rollout decision is made in one place whichever replica the request reached.
 */
export interface RolloutCommand {
  commandId: string;
  action: RolloutAction;
  /** The action's input: the start request, or `{ rolloutId }`. */
  input: unknown;
  requestedBy: string;
  requestedAt: string;
  /** The replica that took it (it runs once: only an unclaimed command can be taken or withdrawn). */
  claimedBy: string | null;
  doneAt: string | null;
  outcome: RolloutCommandOutcome | null;
}

/** Model registry, rollouts and each device's desired model. */
export interface RolloutStore {
  addPackage(record: ModelPackageRecord): Promise<void>;
  getPackage(name: string, version: string): Promise<ModelPackageRecord | undefined>;
  listPackages(): Promise<ModelPackageRecord[]>;
  createRollout(rollout: RolloutRecord, devices: RolloutDevice[]): Promise<void>;
  updateRollout(
    rolloutId: string,
    update: Partial<Pick<RolloutRecord, 'state' | 'currentWave' | 'waveStartedAt' | 'reason' | 'gates' | 'finishedAt'>>,
  ): Promise<void>;
  updateRolloutDevice(
    rolloutId: string,
    deviceId: string,
    update: Partial<Pick<RolloutDevice, 'state' | 'reason' | 'baseline'>>,
  ): Promise<void>;
  getRollout(rolloutId: string): Promise<RolloutRecord | undefined>;
  listRollouts(limit: number): Promise<RolloutRecord[]>;
  rolloutDevices(rolloutId: string): Promise<RolloutDevice[]>;
  setDesired(message: ModelDesiredMessage): Promise<void>;
  listDesired(): Promise<ModelDesiredMessage[]>;
  requestCommand(command: Pick<RolloutCommand, 'commandId' | 'action' | 'input' | 'requestedBy' | 'requestedAt'>): Promise<void>;
  /** Commands nobody has taken yet, oldest first. */
  pendingCommands(limit: number): Promise<RolloutCommand[]>;
  /** Takes an unclaimed command for `replica`; false when another took or withdrew it first. */
  claimCommand(commandId: string, replica: string): Promise<boolean>;
  finishCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<void>;
  /** Withdraws a command nobody has taken (its requester gave up waiting); false when it was taken. */
  withdrawCommand(commandId: string, outcome: RolloutCommandOutcome): Promise<boolean>;
  getCommand(commandId: string): Promise<RolloutCommand | undefined>;
  /**
   * The same store whose writes are refused (VIGIL_LEASE_LOST) unless `fence` is still the current
   * lease, checked in the write's own transaction: a replica that lost the rollout lease (paused,
   * partitioned) cannot overwrite what the new holder decided.
   */
  withFence(fence: LeaseFence): RolloutStore;
}
