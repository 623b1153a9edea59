import type { Logger } from '@vigil/shared';
import type { DeviceState } from '../broker/device-store.js';
import type { ResultStore } from '../results/result-store.js';
import { shadowAgreement } from '../verdicts/verdict-agreement.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';
import { evaluateGates } from './health-gates.js';
import type { GateFigure, RolloutDevice, RolloutRecord, RolloutStore } from './rollout-store.js';

/** One snapshot of the fleet's device states per controller step, by device id. */
export type DeviceStates = ReadonlyMap<string, DeviceState>;

/** Reads the devices' latest model reports into the rollout's per-device states (and persists changes). */
export async function followReports(
  rollouts: Pick<RolloutStore, 'updateRolloutDevice'>,
  logger: Logger,
  rollout: RolloutRecord,
  devices: RolloutDevice[],
  states: DeviceStates,
): Promise<RolloutDevice[]> {
  const out: RolloutDevice[] = [];
  for (const d of devices) {
    const report = states.get(d.deviceId)?.modelReported;
    let next: RolloutDevice['state'] = d.state;
    let reason = d.reason;
    const about = (m: { name: string; version: string } | undefined | null) =>
      !!m && !!report && report.model.name === m.name && report.model.version === m.version;
    const fresh = report && Date.parse(report.at) >= Date.parse(rollout.createdAt) - 1000;
    if (fresh && (d.state === 'desired' || d.state === 'pending')) {
      if (about(rollout.model) && report.state === 'failed') {
        next = 'failed';
        reason = report.reason ? `${report.reason.code}: ${report.reason.message}` : 'failed';
      } else if (about(rollout.model) && report.state === (rollout.mode === 'shadow' ? 'shadow' : 'active')) {
        next = 'installed';
      }
    }
    if (
      fresh &&
      d.state === 'rolling-back' &&
      about(d.previous) &&
      (report.state === 'active' || report.state === 'rolled-back')
    ) {
      next = 'rolled-back';
    }
    if (next !== d.state) {
      await rollouts.updateRolloutDevice(rollout.rolloutId, d.deviceId, { state: next, reason });
      logger.info({ rolloutId: rollout.rolloutId, deviceId: d.deviceId, state: next, reason }, 'rollout device state');
      out.push({ ...d, state: next, reason, updatedAt: new Date().toISOString() });
    } else {
      out.push(d);
    }
  }
  return out;
}

/** The inputs of the health gates, from telemetry and results in the state store, evaluated. */
export async function gateFigures(
  state: Pick<ResultStore, 'modelResults'> & { readonly verdicts: VerdictStore },
  rollout: RolloutRecord,
  devices: RolloutDevice[],
  states: DeviceStates,
): Promise<GateFigure[]> {
  const updated = devices.filter((d) => d.wave <= rollout.currentWave && d.state !== 'pending');
  const ids = updated.filter((d) => d.state !== 'failed').map((d) => d.deviceId);
  let received = 0;
  let failures = 0;
  let withTelemetry = 0;
  for (const d of updated) {
    const t = states.get(d.deviceId)?.lastTelemetry;
    if (!t || !d.baseline || Date.parse(t.sampledAt) < Date.parse(d.updatedAt)) continue;
    withTelemetry += 1;
    received += Math.max(0, t.pipeline.received - d.baseline.received);
    failures += Math.max(0, t.pipeline.failed - d.baseline.failed + t.pipeline.quarantined - d.baseline.quarantined);
  }
  const shadow = rollout.mode === 'shadow';
  const candidate = await state.modelResults({
    modelName: rollout.model.name,
    modelVersion: rollout.model.version,
    shadow,
    deviceIds: ids,
    createdFrom: rollout.createdAt,
    limit: 5000,
  });
  // Baseline: in shadow mode the active model's results on the same images; otherwise the
  // previous models' results on the same devices before the rollout.
  const baseline = await state.modelResults({
    modelName: rollout.model.name,
    excludeVersion: rollout.model.version,
    shadow: false,
    deviceIds: ids,
    ...(shadow ? { createdFrom: rollout.createdAt } : { createdBefore: rollout.createdAt }),
    limit: 5000,
  });
  // Shadow mode: the candidate against clinicians' verdicts on the images both models saw.
  const verdicts = shadow
    ? shadowAgreement(await state.verdicts.reviewFacts({ from: rollout.createdAt }), rollout.model, new Set(ids))
    : undefined;
  return evaluateGates(
    {
      ...(verdicts ? { verdicts } : {}),
      installFailures: updated.filter((d) => d.state === 'failed').length,
      errorRate: withTelemetry > 0 && received > 0 ? failures / received : withTelemetry > 0 ? 0 : null,
      latenciesMs: candidate.map((c) => c.totalMs),
      candidateScores: candidate.map((c) => c.score),
      baselineScores: baseline.map((c) => c.score),
    },
    rollout.spec.gates,
  );
}
