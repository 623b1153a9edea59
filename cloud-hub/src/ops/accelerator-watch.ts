import type { DeviceState } from '../broker/device-store.js';
import type { NewOpsAlert } from './ops-alert-store.js';
import { PeriodicWatch, type PeriodicWatchOptions } from './periodic-watch.js';

/**
 * A device whose telemetry lists an NVIDIA GPU but which infers on the CPU (its CUDA provider or
 * libraries missing, or failing to start): one ops alert per device and model version, with the
 * reason the device gives. Pure; the key makes it idempotent. (What a device reports is a claim: it
 * raises an alert for a person to look at, and changes nothing else.)
 */
export function acceleratorAlerts(states: readonly DeviceState[]): NewOpsAlert[] {
  const out: NewOpsAlert[] = [];
  for (const s of states) {
    const t = s.lastTelemetry;
    if (!t || t.gpus.length === 0 || t.pipeline.inferenceProvider !== 'cpu') continue;
    const model = s.model ? `${s.model.name} ${s.model.version}` : 'its model';
    const reason = t.pipeline.inferenceCpuReason ?? 'no reason given';
    out.push({
      alertKey: `gpu-unused:${s.clinicId}:${s.deviceId}:${s.model?.version ?? '-'}`,
      kind: 'gpu-unused',
      severity: 'warning',
      clinicId: s.clinicId,
      summary: `${s.deviceId} (${s.clinicId}) has ${t.gpus.map((g) => g.name).join(', ')} but runs ${model} on the CPU: ${reason}`,
      details: { deviceId: s.deviceId, gpus: t.gpus.map((g) => g.name), reason },
    });
  }
  return out;
}

/** Looks at the fleet's latest telemetry now and then (on one replica at a time) and raises what is new. */
export class AcceleratorWatch extends PeriodicWatch {
  constructor(private readonly o: PeriodicWatchOptions & { devices: { listDeviceStates(): Promise<DeviceState[]> } }) {
    super(o, 'accelerator watch');
  }

  protected async findAlerts(): Promise<NewOpsAlert[]> {
    return acceleratorAlerts(await this.o.devices.listDeviceStates());
  }
}
