// What a rollout's decisions do: each device's desired model written and published (retained),
// waves started, rollbacks sent and told again until each device reports its previous model, the
// rollout's state recorded, announced to the dashboard and audited. The controller decides when.
import { asVigilError, MODEL_DESIRED_SCHEMA, type ModelDesiredMessage, newMessageId } from '@vigil/shared';
import type { RolloutControllerOptions } from './rollout-controller.js';
import type { RolloutDevice, RolloutRecord, RolloutState, RolloutStore } from './rollout-store.js';

export class RolloutActuator {
  /**
   * `store` is where decisions are written: the tick's fenced store while the lease holder ticks,
   * the plain one otherwise.
   */
  constructor(
    private readonly o: RolloutControllerOptions,
    private readonly store: () => RolloutStore,
  ) {}

  private get rollouts(): RolloutStore {
    return this.store();
  }

  emit(r: Pick<RolloutRecord, 'rolloutId' | 'state' | 'currentWave' | 'reason'>): void {
    this.o.events?.emit({
      type: 'rollout',
      rolloutId: r.rolloutId,
      state: r.state,
      currentWave: r.currentWave,
      reason: r.reason,
    });
  }

  async desired(
    d: RolloutDevice,
    rollout: RolloutRecord,
    active: { name: string; version: string },
    shadow?: { name: string; version: string },
  ): Promise<void> {
    const activeRef = this.o.registry.ref(await this.o.registry.require(active.name, active.version));
    const shadowRef = shadow ? this.o.registry.ref(await this.o.registry.require(shadow.name, shadow.version)) : undefined;
    const message: ModelDesiredMessage = {
      schema: MODEL_DESIRED_SCHEMA,
      messageId: newMessageId(),
      clinicId: d.clinicId,
      deviceId: d.deviceId,
      issuedAt: new Date().toISOString(),
      rolloutId: rollout.rolloutId,
      active: activeRef,
      ...(shadowRef ? { shadow: shadowRef } : {}),
    };
    await this.rollouts.setDesired(message);
    await this.o.publishDesired(message);
  }

  async startWave(rollout: RolloutRecord, devices: readonly RolloutDevice[], wave: number): Promise<void> {
    const states = new Map((await this.o.state.listDeviceStates()).map((s) => [s.deviceId, s]));
    for (const d of devices.filter((x) => x.wave === wave)) {
      const t = states.get(d.deviceId)?.lastTelemetry?.pipeline;
      await this.rollouts.updateRolloutDevice(rollout.rolloutId, d.deviceId, {
        state: 'desired',
        baseline: t ? { received: t.received, failed: t.failed, quarantined: t.quarantined } : null,
      });
      const previous = d.previous ?? rollout.model;
      if (rollout.mode === 'shadow') await this.desired(d, rollout, previous, rollout.model);
      else await this.desired(d, rollout, rollout.model);
    }
  }

  /** The controller's own decisions are changes too: audited as the system. */
  auditSystem(rollout: RolloutRecord, what: string, details: object): Promise<unknown> {
    return this.o.state.audit.append({
      actor: 'system',
      actorRole: 'system',
      action: `rollout.${what}`,
      targetType: 'rollout',
      targetId: rollout.rolloutId,
      outcome: 'success',
      details: { ...details, model: rollout.model },
      ip: 'local',
    });
  }

  async setState(rollout: RolloutRecord, update: { state: RolloutState; reason?: string; finishedAt?: string }): Promise<void> {
    await this.rollouts.updateRollout(rollout.rolloutId, update);
    this.o.logger.info({ rolloutId: rollout.rolloutId, state: update.state, reason: update.reason }, 'rollout state');
    this.emit({ ...rollout, ...update, reason: update.reason ?? rollout.reason });
  }

  async rollBack(rollout: RolloutRecord, devices: RolloutDevice[], reason: string): Promise<void> {
    await this.setState(rollout, { state: 'rolling-back', reason });
    for (const d of devices) {
      if (d.state === 'pending' || d.wave > rollout.currentWave) continue;
      if (!d.previous) continue;
      await this.rollouts.updateRolloutDevice(rollout.rolloutId, d.deviceId, { state: 'rolling-back' });
      try {
        await this.desired(d, rollout, d.previous);
      } catch (error) {
        // The next ticks tell it again (reassertRollback): one device must not stop the others'.
        this.o.logger.warn(
          { code: asVigilError(error, 'VIGIL_MQTT_PUBLISH_REFUSED').code, rolloutId: rollout.rolloutId, deviceId: d.deviceId },
          `rollback not yet sent to the device; retried on the next tick: ${(error as Error).message}`,
        );
      }
    }
  }

  /**
   * A rollback converges whatever happened in between: on every tick each device of an updated
   * wave that has not reported its previous model is (again) marked rolling back and told its
   * previous model when its desired state is not that model (a publish lost, a lease lost between
   * the two writes, a device that entered the wave as the gate tripped) or when it has waited longer
   * than rollbackReassertMs (a desired message the device never acted on, a report that raced an
   * install). The device's own report ends it (followReports).
   */
  async reassertRollback(rollout: RolloutRecord, devices: RolloutDevice[]): Promise<void> {
    const desired = new Map((await this.o.state.rollouts.listDesired()).map((m) => [m.deviceId, m]));
    const reassertMs = this.o.rollbackReassertMs ?? 15_000;
    for (const d of devices) {
      if (d.wave > rollout.currentWave || d.state === 'pending' || d.state === 'rolled-back' || !d.previous) continue;
      const told = desired.get(d.deviceId);
      const tellsPrevious =
        told?.rolloutId === rollout.rolloutId &&
        !told.shadow &&
        told.active.name === d.previous.name &&
        told.active.version === d.previous.version;
      const waitedMs = Date.now() - Date.parse(d.updatedAt);
      if (d.state === 'rolling-back' && tellsPrevious && waitedMs < reassertMs) continue;
      this.o.logger.info(
        { rolloutId: rollout.rolloutId, deviceId: d.deviceId, state: d.state, waitedMs },
        'rollback told to the device again',
      );
      // Marked first (its updatedAt restarts the wait), then told; a failure is retried next tick.
      await this.rollouts.updateRolloutDevice(rollout.rolloutId, d.deviceId, { state: 'rolling-back' });
      d.state = 'rolling-back';
      await this.desired(d, rollout, d.previous);
    }
  }
}
