// A new rollout from an operator's request: its spec with defaults, the cohort of devices it
// updates (and those it skips, with why), their waves, and the records the controller stores.
import { randomBytes } from 'node:crypto';
import { VigilError } from '@vigil/shared';
import type { DeviceRecord, DeviceState } from '../broker/device-store.js';
import { DEFAULT_WAVES, planWaves } from './rollout-planner.js';
import type { GateThresholds, RolloutDevice, RolloutMode, RolloutRecord, RolloutSpec } from './rollout-store.js';

export const DEFAULT_GATES: GateThresholds = {
  maxInstallFailures: 0,
  maxErrorRate: 0.05,
  maxP95LatencyMs: 2000,
  maxPsi: 0.25,
  minSamples: 20,
  minVerdicts: 0,
};

export interface StartRollout {
  model: { name: string; version: string };
  mode?: RolloutMode;
  cohort?: { clinics?: string[]; tags?: string[] };
  waves?: RolloutSpec['waves'];
  bakeS?: number;
  gates?: Partial<GateThresholds>;
  onTrip?: RolloutSpec['onTrip'];
  actor: string;
}

/** The model a device runs: the one it was told, else the one it reports. */
export function modelOf(d: DeviceState): { name: string; version: string } | null {
  return d.model ?? d.modelReported?.active ?? null;
}

/**
 * Plans a rollout of `model` over the fleet. Every device updated must be able to go back, so its
 * current model has to be in the registry (`inRegistry`); revoked devices, devices outside the
 * cohort's clinics and tags, and devices that have not reported a model are left out.
 */
export async function planRollout(
  input: StartRollout,
  model: { name: string; version: string },
  fleet: { records: readonly DeviceRecord[]; states: readonly DeviceState[] },
  inRegistry: (model: { name: string; version: string }) => Promise<boolean>,
): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[]; skipped: string[] }> {
  const spec: RolloutSpec = {
    cohort: { clinics: input.cohort?.clinics ?? [], tags: input.cohort?.tags ?? [] },
    waves: input.waves ?? DEFAULT_WAVES,
    bakeS: input.bakeS ?? 300,
    gates: { ...DEFAULT_GATES, ...input.gates },
    onTrip: input.onTrip ?? 'rollback',
  };
  const stateOf = new Map(fleet.states.map((s) => [s.deviceId, s]));
  const skipped: string[] = [];
  const cohort = fleet.records.filter((d) => {
    if (d.revokedAt) return false;
    if (spec.cohort.clinics.length > 0 && !spec.cohort.clinics.includes(d.clinicId)) return false;
    if (spec.cohort.tags.length > 0 && !spec.cohort.tags.some((t) => d.tags.includes(t))) return false;
    const current = stateOf.get(d.deviceId);
    if (!current || !modelOf(current)) {
      skipped.push(`${d.deviceId}: current model unknown (not reported yet)`);
      return false;
    }
    return true;
  });
  const previousOf = (deviceId: string) => modelOf(stateOf.get(deviceId) as DeviceState) as { name: string; version: string };
  for (const d of cohort) {
    const previous = previousOf(d.deviceId);
    if (previous.name === model.name && previous.version === model.version) continue;
    if (!(await inRegistry(previous))) {
      throw new VigilError(
        'VIGIL_ROLLOUT_INVALID',
        `${d.deviceId} runs ${previous.name} ${previous.version}, which is not in the registry: publish it so a rollback is possible`,
      );
    }
  }
  if (cohort.length === 0) throw new VigilError('VIGIL_ROLLOUT_INVALID', 'the cohort has no device to update');
  const rolloutId = `ro-${new Date().toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`;
  const waves = planWaves(
    rolloutId,
    cohort.map((d) => d.deviceId),
    spec.waves,
  );
  const now = new Date().toISOString();
  const waveOf = new Map(waves.flatMap((ids, w) => ids.map((id) => [id, w] as const)));
  const devices: RolloutDevice[] = cohort.map((d) => ({
    rolloutId,
    deviceId: d.deviceId,
    clinicId: d.clinicId,
    wave: waveOf.get(d.deviceId) ?? waves.length - 1,
    previous: previousOf(d.deviceId),
    state: 'pending',
    reason: null,
    baseline: null,
    updatedAt: now,
  }));
  const rollout: RolloutRecord = {
    rolloutId,
    model: { name: model.name, version: model.version },
    mode: input.mode ?? 'active',
    spec,
    state: 'running',
    currentWave: 0,
    waveStartedAt: now,
    reason: null,
    gates: [],
    createdBy: input.actor,
    createdAt: now,
    updatedAt: now,
    finishedAt: null,
  };
  return { rollout, devices, skipped };
}
