import type { Logger } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import type { DeviceState } from '../state/state-store.js';
import type { NewOpsAlert, OpsAlertStore } from './ops-alert-store.js';

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
export class AcceleratorWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<unknown> | undefined;

  constructor(
    private readonly o: {
      devices: { listDeviceStates(): Promise<DeviceState[]> };
      alerts: OpsAlertStore;
      events?: Pick<HubEvents, 'emit'>;
      logger: Logger;
      intervalMs: number;
      leader: () => boolean;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.o.leader())
        void this.check().catch((error: Error) => this.o.logger.warn({ err: error.message }, 'accelerator watch failed'));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  async check(): Promise<void> {
    this.running ??= (async () => {
      try {
        for (const a of await this.o.alerts.raise(acceleratorAlerts(await this.o.devices.listDeviceStates()))) {
          this.o.logger.warn({ alertKey: a.alertKey, clinicId: a.clinicId }, a.summary);
          this.o.events?.emit({
            type: 'ops-alert',
            alertKey: a.alertKey,
            severity: a.severity,
            clinicId: a.clinicId,
            summary: a.summary,
          });
        }
      } finally {
        this.running = undefined;
      }
    })();
    await this.running;
  }
}
