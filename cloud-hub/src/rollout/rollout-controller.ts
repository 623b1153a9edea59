import { asVigilError, type Logger, type ModelDesiredMessage, VigilError } from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import type { DeviceStore } from '../broker/device-store.js';
import type { LeaseFence } from '../cluster/lease-store.js';
import type { HubEvents } from '../events/hub-events.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { ResultStore } from '../results/result-store.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';

import { RolloutActuator } from './rollout-actuator.js';
import { planRollout, type StartRollout } from './rollout-cohort.js';
import { carryOutCommands, viaLeaseHolder } from './rollout-commands.js';
import { followReports, gateFigures } from './rollout-signals.js';
import { nextStep } from './rollout-step.js';
import type { RolloutAction, RolloutDevice, RolloutRecord, RolloutState, RolloutStore } from './rollout-store.js';

/** What the rollout controller uses of the state: its own store, the fleet, the gates' figures, the audit log. */
export type RolloutControllerStore = Pick<DeviceStore, 'listDeviceStates' | 'listDevices'> &
  Pick<ResultStore, 'modelResults'> & {
    readonly rollouts: RolloutStore;
    readonly verdicts: VerdictStore;
    readonly audit: AuditStore;
  };

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

  private readonly act: RolloutActuator;

  constructor(private readonly o: RolloutControllerOptions) {
    this.act = new RolloutActuator(o, () => this.rollouts);
  }

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
    return here === NOT_HERE ? viaLeaseHolder(this.o.state.rollouts, action, input, this.o.commandTimeoutMs ?? 30_000) : here;
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

  /** On the lease holder: carries out other replicas' commands, oldest first (each taken once). */
  private commandsNow(): Promise<void> {
    return carryOutCommands({
      store: this.o.state.rollouts,
      fenced: this.rollouts,
      replicaId: this.o.replicaId ?? 'hub',
      perform: (action, input) => this.perform(action, input),
      logger: this.o.logger,
    });
  }

  private async startRolloutNow(
    input: StartRollout,
  ): Promise<{ rollout: RolloutRecord; devices: RolloutDevice[]; skipped: string[] }> {
    const record = await this.o.registry.require(input.model.name, input.model.version);
    const live = (await this.o.state.rollouts.listRollouts(50)).find((r) => LIVE.includes(r.state));
    if (live)
      throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${live.rolloutId} is ${live.state}: finish or abort it first`);
    const [records, states] = await Promise.all([this.o.state.listDevices(), this.o.state.listDeviceStates()]);
    const { rollout, devices, skipped } = await planRollout(input, record, { records, states }, async (m) =>
      Boolean(await this.o.state.rollouts.getPackage(m.name, m.version)),
    );
    await this.rollouts.createRollout(rollout, devices);
    await this.act.startWave(rollout, devices, 0);
    this.o.logger.info(
      {
        rolloutId: rollout.rolloutId,
        model: record.name,
        version: record.version,
        devices: devices.length,
        waves: Math.max(...devices.map((d) => d.wave)) + 1,
      },
      'rollout started',
    );
    this.act.emit(rollout);
    return { rollout, devices: await this.o.state.rollouts.rolloutDevices(rollout.rolloutId), skipped };
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
    if (rollout.state === 'rolling-back') await this.act.reassertRollback(rollout, devices);
    const gates = rollout.state === 'running' ? await gateFigures(this.o.state, rollout, devices, states) : rollout.gates;
    if (rollout.state === 'running') await this.rollouts.updateRollout(rollout.rolloutId, { gates });
    const waveCount = Math.max(...devices.map((d) => d.wave)) + 1;
    const decision = nextStep({ rollout: { ...rollout, gates }, devices, gates, waveCount, nowMs: Date.now() });
    const now = new Date().toISOString();
    if (decision.kind !== 'wait') await this.act.auditSystem(rollout, decision.kind, decision);
    if (decision.kind === 'trip') {
      this.o.logger.warn(
        { rolloutId: rollout.rolloutId, reason: decision.reason, onTrip: rollout.spec.onTrip },
        'rollout gate tripped',
      );
      if (rollout.spec.onTrip === 'pause') {
        await this.act.setState(rollout, { state: 'paused', reason: `gate tripped: ${decision.reason}` });
      } else {
        await this.act.rollBack(rollout, devices, `gate tripped: ${decision.reason}`);
      }
    } else if (decision.kind === 'advance') {
      await this.rollouts.updateRollout(rollout.rolloutId, { currentWave: decision.toWave, waveStartedAt: now });
      const next = { ...rollout, currentWave: decision.toWave, waveStartedAt: now };
      await this.act.startWave(next, devices, decision.toWave);
      this.o.logger.info({ rolloutId: rollout.rolloutId, wave: decision.toWave }, 'rollout wave started');
      this.act.emit(next);
    } else if (decision.kind === 'complete') {
      await this.act.setState(rollout, { state: 'completed', finishedAt: now });
    } else if (decision.kind === 'rolled-back') {
      await this.act.setState(rollout, { state: 'rolled-back', finishedAt: now });
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
    await this.act.setState(r, { state: 'paused', reason: `paused by ${actor}` });
    return this.live(rolloutId);
  }

  private async resumeNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (r.state !== 'paused') throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}, not paused`);
    // The bake time restarts: whatever tripped or worried someone gets a fresh look.
    await this.rollouts.updateRollout(rolloutId, { waveStartedAt: new Date().toISOString() });
    await this.act.setState(r, { state: 'running', reason: `resumed by ${actor}` });
    return this.live(rolloutId);
  }

  private async abortNow(rolloutId: string, actor: string): Promise<RolloutRecord> {
    const r = await this.live(rolloutId);
    if (r.state !== 'running' && r.state !== 'paused') {
      throw new VigilError('VIGIL_ROLLOUT_INVALID', `rollout ${rolloutId} is ${r.state}; only running or paused rollouts abort`);
    }
    await this.act.setState(r, { state: 'aborted', reason: `aborted by ${actor}`, finishedAt: new Date().toISOString() });
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
    await this.act.rollBack(everyWave, devices, `rolled back by ${actor}`);
    return this.live(rolloutId);
  }
}
