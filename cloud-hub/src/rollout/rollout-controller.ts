import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  asVigilError,
  ERROR_CATALOGUE,
  type ErrorCode,
  type Logger,
  MODEL_DESIRED_SCHEMA,
  type ModelDesiredMessage,
  newMessageId,
  VigilError,
} from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import type { DeviceState, DeviceStore } from '../broker/device-store.js';
import type { LeaseFence } from '../cluster/lease-store.js';
import type { HubEvents } from '../events/hub-events.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { ResultStore } from '../results/result-store.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';

/** What the rollout controller uses of the state: its own store, the fleet, the gates' figures, the audit log. */
export type RolloutControllerStore = Pick<DeviceStore, 'listDeviceStates' | 'listDevices'> &
  Pick<ResultStore, 'modelResults'> & {
    readonly rollouts: RolloutStore;
    readonly verdicts: VerdictStore;
    readonly audit: AuditStore;
  };

import { DEFAULT_WAVES, planWaves } from './rollout-planner.js';
import { followReports, gateFigures } from './rollout-signals.js';
import { nextStep } from './rollout-step.js';
import type {
  GateThresholds,
  RolloutAction,
  RolloutCommandOutcome,
  RolloutDevice,
  RolloutMode,
  RolloutRecord,
  RolloutSpec,
  RolloutState,
  RolloutStore,
} from './rollout-store.js';

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

export interface RolloutControllerOptions {
  state: RolloutControllerStore;
  registry: ModelRegistry;
  publishDesired: (message: ModelDesiredMessage) => Promise<void>;
  logger: Logger;
  events?: HubEvents;
  tickMs: number;
  /**
   * With hub replicas: the rollout lease. Only its holder ticks, and its tick's writes carry the
   * lease's fence, so a replica that lost the lease cannot overwrite the new holder's decisions.
   */
  lease?: { fence(): LeaseFence | undefined };
  /** This replica's name: recorded on the operator commands it carries out for other replicas. */
  replicaId?: string;
  /** How long an operator's action waits for the lease holder to carry it out (default 30 s). */
  commandTimeoutMs?: number;
  /** How often the lease holder looks for other replicas' operator commands (default 250 ms). */
  commandPollMs?: number;
  /**
   * A device still rolling back is told its previous model again after this long without reporting
   * it (default 15 s): a lost publish, a lease lost mid-rollback or a report that raced an install
   * cannot leave a rollback waiting for ever.
   */
  rollbackReassertMs?: number;
}

/** An operator's action on a rollout that already exists. */
interface RolloutOperation {
  rolloutId: string;
  actor: string;
}

const LIVE: readonly RolloutState[] = ['running', 'paused', 'rolling-back'];

function modelOf(d: DeviceState): { name: string; version: string } | null {
  return d.model ?? d.modelReported?.active ?? null;
}

/**
 * Runs rollouts: plans waves, publishes each device's desired model (retained), follows the
 * devices' reports, evaluates the health gates every tick and advances, completes, pauses or rolls
 * back. All state is in the state store, so a restarted hub picks every rollout up where it was.
 */
export class RolloutController {
  private timer: NodeJS.Timeout | undefined;
  private commandTimer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private polling: Promise<void> | undefined;
  /**
   * Ticks and operator actions run one at a time. Each reads rollout and device states, awaits, and
   * writes them back: interleaved, a tick that tripped a gate while `startRollout` was still
   * publishing the first wave skipped the devices not yet marked, which then got the new model
   * after the rollback was decided (seen in the fleet test under load).
   */
  private serial: Promise<unknown> = Promise.resolve();
  /** The fenced store while a tick runs (ticks and operator actions never overlap: `exclusive`). */
  private tickStore: RolloutStore | undefined;

  /** Where this operation writes: the tick's fenced store, or the plain one for operator actions. */
  private get rollouts(): RolloutStore {
    return this.tickStore ?? this.o.state.rollouts;
  }

  constructor(private readonly o: RolloutControllerOptions) {}

  private exclusive<T>(operation: () => Promise<T>): Promise<T> {
    const run = this.serial.then(operation, operation);
    this.serial = run.catch(() => undefined);
    return run;
  }

  /** Republishes every device's desired model (the broker's retained store may be in memory) and starts ticking. */
  async start(): Promise<void> {
    for (const message of await this.o.state.rollouts.listDesired()) {
      await this.o
        .publishDesired(message)
        .catch((error: Error) =>
          this.o.logger.warn({ deviceId: message.deviceId, err: error.message }, 'could not republish desired model'),
        );
    }
    this.timer = setInterval(() => {
      this.ticking ??= this.tick()
        .catch((error: unknown) => {
          // The store is unreachable (a database outage): the next tick tries again.
          const vigil = asVigilError(error, 'VIGIL_INTERNAL');
          this.o.logger.error({ code: vigil.code }, `rollout tick failed: ${vigil.message}`);
        })
        .finally(() => {
          this.ticking = undefined;
        });
    }, this.o.tickMs);
    this.timer.unref();
    if (this.o.lease) {
      this.commandTimer = setInterval(() => {
        if (!this.o.lease?.fence()) return;
        this.polling ??= this.exclusive(() => this.fenced(() => this.commandsNow()))
          .catch((error: unknown) => {
            const vigil = asVigilError(error, 'VIGIL_INTERNAL');
            this.o.logger.warn({ code: vigil.code }, `rollout commands not read: ${vigil.message}`);
          })
          .finally(() => {
            this.polling = undefined;
          });
      }, this.o.commandPollMs ?? 250);
      this.commandTimer.unref();
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.commandTimer) clearInterval(this.commandTimer);
    await this.ticking;
    await this.polling;
  }

  startRollout(input: StartRollout): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[]; skipped: string[] }> {
    return this.operate('start', input) as Promise<{ rollout: RolloutRecord; devices: RolloutDevice[]; skipped: string[] }>;
  }

  pause(rolloutId: string, actor: string): Promise<RolloutRecord> {
    return this.operate('pause', { rolloutId, actor }) as Promise<RolloutRecord>;
  }

  resume(rolloutId: string, actor: string): Promise<RolloutRecord> {
    return this.operate('resume', { rolloutId, actor }) as Promise<RolloutRecord>;
  }

  abort(rolloutId: string, actor: string): Promise<RolloutRecord> {
    return this.operate('abort', { rolloutId, actor }) as Promise<RolloutRecord>;
  }

  rollback(rolloutId: string, actor: string): Promise<RolloutRecord> {
    return this.operate('rollback', { rolloutId, actor }) as Promise<RolloutRecord>;
  }

  /** Carries out one operator action here (the caller holds the serial turn and, with replicas, the fence). */
  private perform(action: RolloutAction, input: unknown): Promise<unknown> {
    const op = input as RolloutOperation;
    switch (action) {
      case 'start':
        return this.startRolloutNow(input as StartRollout);
      case 'pause':
        return this.pauseNow(op.rolloutId, op.actor);
      case 'resume':
        return this.resumeNow(op.rolloutId, op.actor);
      case 'abort':
        return this.abortNow(op.rolloutId, op.actor);
      case 'rollback':
        return this.rollbackNow(op.rolloutId, op.actor);
    }
  }

  /**
   * Every rollout decision is made in one place. A single hub, or the replica holding the rollout
   * lease, carries an operator's action out itself, in turn with its ticks and under the lease's
   * fence; any other replica hands it to the holder through the database and waits for the outcome.
   */
  private async operate(action: RolloutAction, input: unknown): Promise<unknown> {
    const NOT_HERE = Symbol('not the lease holder');
    const here = await this.exclusive(async () => {
      if (!this.o.lease) return this.perform(action, input);
      if (!this.o.lease.fence()) return NOT_HERE;
      return this.fenced(() => this.perform(action, input));
    });
    return here === NOT_HERE ? this.viaHolder(action, input) : here;
  }

  /** Runs `fn` with writes fenced by the rollout lease (when there is one). */
  private async fenced<T>(fn: () => Promise<T>): Promise<T> {
    const fence = this.o.lease?.fence();
    if (this.o.lease && !fence) {
      throw new VigilError('VIGIL_LEASE_LOST', 'this replica no longer holds the rollout lease');
    }
    this.tickStore = fence ? this.o.state.rollouts.withFence(fence) : undefined;
    try {
      return await fn();
    } finally {
      this.tickStore = undefined;
    }
  }

  /** On a replica without the lease: records the command and waits for the holder's outcome. */
  private async viaHolder(action: RolloutAction, input: unknown): Promise<unknown> {
    const store = this.o.state.rollouts;
    const commandId = randomUUID();
    const actor = (input as { actor?: string }).actor ?? 'unknown';
    await store.requestCommand({ commandId, action, input, requestedBy: actor, requestedAt: new Date().toISOString() });
    const timeoutMs = this.o.commandTimeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const command = await store.getCommand(commandId);
      if (command?.outcome) return unwrap(command.outcome);
      if (Date.now() >= deadline) {
        const busy: RolloutCommandOutcome = {
          ok: false,
          code: 'VIGIL_ROLLOUT_BUSY',
          message: `no replica holding the rollout lease took the ${action} within ${timeoutMs} ms; it was withdrawn, retry`,
        };
        if (await store.withdrawCommand(commandId, busy)) return unwrap(busy);
        // Taken: it is running on the holder. Wait once more as long for its outcome, then say so.
        if (Date.now() >= deadline + timeoutMs) {
          throw new VigilError(
            'VIGIL_ROLLOUT_BUSY',
            `the ${action} was taken by ${command?.claimedBy ?? 'another replica'} but its outcome is unknown (command ${commandId})`,
          );
        }
      }
      await sleep(50);
    }
  }

  /** On the lease holder: carries out other replicas' commands, oldest first (each taken once). */
  private async commandsNow(): Promise<void> {
    for (const command of await this.o.state.rollouts.pendingCommands(20)) {
      if (!(await this.rollouts.claimCommand(command.commandId, this.o.replicaId ?? 'hub'))) continue;
      let outcome: RolloutCommandOutcome;
      try {
        outcome = { ok: true, value: await this.perform(command.action, command.input) };
      } catch (error) {
        const vigil = asVigilError(error, 'VIGIL_INTERNAL');
        outcome = { ok: false, code: vigil.code, message: vigil.message };
      }
      await this.o.state.rollouts.finishCommand(command.commandId, outcome);
      this.o.logger.info(
        { commandId: command.commandId, action: command.action, by: command.requestedBy, ok: outcome.ok },
        'rollout command carried out for another replica',
      );
      if (!outcome.ok && outcome.code === 'VIGIL_LEASE_LOST') return;
    }
  }

  private async startRolloutNow(
    input: StartRollout,
  ): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[]; skipped: string[] }> {
    const record = await this.o.registry.require(input.model.name, input.model.version);
    const live = (await this.o.state.rollouts.listRollouts(50)).find((r) => LIVE.includes(r.state));
    if (live)
      throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${live.rolloutId} is ${live.state}: finish or abort it first`);
    const spec: RolloutSpec = {
      cohort: { clinics: input.cohort?.clinics ?? [], tags: input.cohort?.tags ?? [] },
      waves: input.waves ?? DEFAULT_WAVES,
      bakeS: input.bakeS ?? 300,
      gates: { ...DEFAULT_GATES, ...input.gates },
      onTrip: input.onTrip ?? 'rollback',
    };
    const [records, states] = await Promise.all([this.o.state.listDevices(), this.o.state.listDeviceStates()]);
    const stateOf = new Map(states.map((s) => [s.deviceId, s]));
    const skipped: string[] = [];
    const cohort = records.filter((d) => {
      if (d.revokedAt) return false;
      if (spec.cohort.clinics.length > 0 && !spec.cohort.clinics.includes(d.clinicId)) return false;
      if (spec.cohort.tags.length > 0 && !spec.cohort.tags.some((t) => d.tags.includes(t))) return false;
      const current = stateOf.get(d.deviceId);
      const model = current ? modelOf(current) : null;
      if (!model) {
        skipped.push(`${d.deviceId}: current model unknown (not reported yet)`);
        return false;
      }
      return true;
    });
    // Every device must be able to go back: its current model has to be in the registry.
    for (const d of cohort) {
      const model = modelOf(stateOf.get(d.deviceId) as DeviceState) as { name: string; version: string };
      if (model.name === record.name && model.version === record.version) continue;
      if (!(await this.o.state.rollouts.getPackage(model.name, model.version))) {
        throw new VigilError(
          'VIGIL_ROLLOUT_INVALID',
          `${d.deviceId} runs ${model.name} ${model.version}, which is not in the registry: publish it so a rollback is possible`,
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
      previous: modelOf(stateOf.get(d.deviceId) as DeviceState),
      state: 'pending',
      reason: null,
      baseline: null,
      updatedAt: now,
    }));
    const rollout: RolloutRecord = {
      rolloutId,
      model: { name: record.name, version: record.version },
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
    await this.rollouts.createRollout(rollout, devices);
    await this.startWave(rollout, devices, 0);
    this.o.logger.info(
      { rolloutId, model: record.name, version: record.version, devices: devices.length, waves: waves.length },
      'rollout started',
    );
    this.emit(rollout);
    return { rollout, devices: await this.o.state.rollouts.rolloutDevices(rolloutId), skipped };
  }

  private emit(r: Pick<RolloutRecord, 'rolloutId' | 'state' | 'currentWave' | 'reason'>): void {
    this.o.events?.emit({
      type: 'rollout',
      rolloutId: r.rolloutId,
      state: r.state,
      currentWave: r.currentWave,
      reason: r.reason,
    });
  }

  private async desired(
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

  private async startWave(rollout: RolloutRecord, devices: readonly RolloutDevice[], wave: number): Promise<void> {
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

  /** One pass over every live rollout. */
  tick(): Promise<void> {
    return this.exclusive(() => this.tickNow());
  }

  private async tickNow(): Promise<void> {
    // Another replica holds the rollout lease: it ticks.
    if (this.o.lease && !this.o.lease.fence()) return;
    await this.fenced(async () => {
      if (this.o.lease) await this.commandsNow();
      for (const summary of await this.o.state.rollouts.listRollouts(20)) {
        if (summary.state !== 'running' && summary.state !== 'rolling-back') continue;
        try {
          await this.step(summary);
        } catch (error) {
          const vigil = asVigilError(error, 'VIGIL_STATE_STORE_UNAVAILABLE');
          this.o.logger.error({ code: vigil.code, rolloutId: summary.rolloutId }, `rollout step failed: ${vigil.message}`);
          if (vigil.code === 'VIGIL_LEASE_LOST') return;
        }
      }
    });
  }

  private async step(rollout: RolloutRecord): Promise<void> {
    // One read of the fleet's state serves both the reports and the gate inputs.
    const states = new Map((await this.o.state.listDeviceStates()).map((s) => [s.deviceId, s]));
    const devices = await followReports(
      this.rollouts,
      this.o.logger,
      rollout,
      await this.o.state.rollouts.rolloutDevices(rollout.rolloutId),
      states,
    );
    if (rollout.state === 'rolling-back') await this.reassertRollback(rollout, devices);
    const gates = rollout.state === 'running' ? await gateFigures(this.o.state, rollout, devices, states) : rollout.gates;
    if (rollout.state === 'running') await this.rollouts.updateRollout(rollout.rolloutId, { gates });
    const waveCount = Math.max(...devices.map((d) => d.wave)) + 1;
    const decision = nextStep({ rollout: { ...rollout, gates }, devices, gates, waveCount, nowMs: Date.now() });
    const now = new Date().toISOString();
    if (decision.kind !== 'wait') await this.auditSystem(rollout, decision.kind, decision);
    if (decision.kind === 'trip') {
      this.o.logger.warn(
        { rolloutId: rollout.rolloutId, reason: decision.reason, onTrip: rollout.spec.onTrip },
        'rollout gate tripped',
      );
      if (rollout.spec.onTrip === 'pause') {
        await this.setState(rollout, { state: 'paused', reason: `gate tripped: ${decision.reason}` });
      } else {
        await this.rollBack(rollout, devices, `gate tripped: ${decision.reason}`);
      }
    } else if (decision.kind === 'advance') {
      await this.rollouts.updateRollout(rollout.rolloutId, { currentWave: decision.toWave, waveStartedAt: now });
      const next = { ...rollout, currentWave: decision.toWave, waveStartedAt: now };
      await this.startWave(next, devices, decision.toWave);
      this.o.logger.info({ rolloutId: rollout.rolloutId, wave: decision.toWave }, 'rollout wave started');
      this.emit(next);
    } else if (decision.kind === 'complete') {
      await this.setState(rollout, { state: 'completed', finishedAt: now });
    } else if (decision.kind === 'rolled-back') {
      await this.setState(rollout, { state: 'rolled-back', finishedAt: now });
    }
  }

  /** The controller's own decisions are changes too: audited as the system. */
  private auditSystem(rollout: RolloutRecord, what: string, details: object): Promise<unknown> {
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

  private async setState(
    rollout: RolloutRecord,
    update: { state: RolloutState; reason?: string; finishedAt?: string },
  ): Promise<void> {
    await this.rollouts.updateRollout(rollout.rolloutId, update);
    this.o.logger.info({ rolloutId: rollout.rolloutId, state: update.state, reason: update.reason }, 'rollout state');
    this.emit({ ...rollout, ...update, reason: update.reason ?? rollout.reason });
  }

  private async rollBack(rollout: RolloutRecord, devices: RolloutDevice[], reason: string): Promise<void> {
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
  private async reassertRollback(rollout: RolloutRecord, devices: RolloutDevice[]): Promise<void> {
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

  private async live(rolloutId: string): Promise<RolloutRecord> {
    const rollout = await this.o.state.rollouts.getRollout(rolloutId);
    if (!rollout) throw new VigilError('VIGIL_API_NOT_FOUND', `rollout ${rolloutId} does not exist`);
    return rollout;
  }

  private async pauseNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (r.state !== 'running') throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}, not running`);
    await this.setState(r, { state: 'paused', reason: `paused by ${actor}` });
    return this.live(rolloutId);
  }

  private async resumeNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (r.state !== 'paused') throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}, not paused`);
    // The bake time restarts: whatever tripped or worried someone gets a fresh look.
    await this.rollouts.updateRollout(rolloutId, { waveStartedAt: new Date().toISOString() });
    await this.setState(r, { state: 'running', reason: `resumed by ${actor}` });
    return this.live(rolloutId);
  }

  private async abortNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (r.state !== 'running' && r.state !== 'paused') {
      throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}; only running or paused rollouts abort`);
    }
    await this.setState(r, { state: 'aborted', reason: `aborted by ${actor}`, finishedAt: new Date().toISOString() });
    return this.live(rolloutId);
  }

  private async rollbackNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (!['running', 'paused', 'completed', 'aborted'].includes(r.state)) {
      throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}; it cannot be rolled back`);
    }
    const devices = await this.o.state.rollouts.rolloutDevices(rolloutId);
    // A completed rollout's last wave counts as updated too.
    const everyWave = { ...r, currentWave: Math.max(r.currentWave, ...devices.map((d) => d.wave)) };
    await this.rollouts.updateRollout(rolloutId, { currentWave: everyWave.currentWave, finishedAt: null });
    await this.rollBack(everyWave, devices, `rolled back by ${actor}`);
    return this.live(rolloutId);
  }
}

function unwrap(outcome: RolloutCommandOutcome): unknown {
  if (outcome.ok) return outcome.value;
  const code = (outcome.code in ERROR_CATALOGUE ? outcome.code : 'VIGIL_INTERNAL') as ErrorCode;
  throw new VigilError(code, outcome.message);
}
