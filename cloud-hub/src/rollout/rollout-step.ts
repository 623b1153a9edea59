import type { GateFigure, RolloutDevice, RolloutRecord } from './rollout-store.js';

export type RolloutDecision =
  | { kind: 'wait'; why: string }
  | { kind: 'trip'; reason: string }
  | { kind: 'advance'; toWave: number }
  | { kind: 'complete' }
  | { kind: 'rolled-back' };

export interface StepInput {
  rollout: RolloutRecord;
  devices: readonly RolloutDevice[];
  gates: readonly GateFigure[];
  waveCount: number;
  nowMs: number;
}

/**
 * What a rollout should do next, from its state, its devices' reports and the gate figures. Pure:
 * the controller persists the decision and acts on it, so a restarted hub decides the same thing.
 */
export function nextStep(input: StepInput): RolloutDecision {
  const { rollout, devices, gates } = input;
  const updated = devices.filter((d) => d.wave <= rollout.currentWave);
  if (rollout.state === 'rolling-back') {
    const pending = updated.filter((d) => d.state !== 'rolled-back' && d.state !== 'pending' && d.previous !== null);
    return pending.length === 0 ? { kind: 'rolled-back' } : { kind: 'wait', why: `${pending.length} devices still rolling back` };
  }
  if (rollout.state !== 'running') return { kind: 'wait', why: `rollout is ${rollout.state}` };
  const failed = gates.filter((g) => g.status === 'fail');
  if (failed.length > 0) {
    return {
      kind: 'trip',
      reason: failed
        .map((g) => (g.detail ? `${g.gate}: ${g.detail}` : `${g.gate} ${g.value ?? '—'} > ${g.threshold}`))
        .join('; '),
    };
  }
  const waiting = updated.filter((d) => d.state === 'pending' || d.state === 'desired');
  if (waiting.length > 0) return { kind: 'wait', why: `${waiting.length} devices installing` };
  const gateWaiting = gates.filter((g) => g.status === 'waiting' && g.gate !== 'error-rate');
  if (gateWaiting.length > 0)
    return { kind: 'wait', why: `gates waiting for data: ${gateWaiting.map((g) => g.gate).join(', ')}` };
  const installedAt = Math.max(
    rollout.waveStartedAt ? Date.parse(rollout.waveStartedAt) : 0,
    ...updated.filter((d) => d.state === 'installed').map((d) => Date.parse(d.updatedAt)),
  );
  const bakeLeftMs = installedAt + rollout.spec.bakeS * 1000 - input.nowMs;
  if (bakeLeftMs > 0) return { kind: 'wait', why: `baking, ${Math.ceil(bakeLeftMs / 1000)} s left` };
  return rollout.currentWave + 1 >= input.waveCount ? { kind: 'complete' } : { kind: 'advance', toWave: rollout.currentWave + 1 };
}
