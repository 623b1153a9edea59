import type { Logger } from '@vigil/shared';
import type { LeaseFence, LeaseStore } from './lease-store.js';

export interface SingletonLeaseOptions {
  store: LeaseStore;
  name: string;
  /** This replica's identity (host, pid and a random part: unique per process). */
  holder: string;
  ttlMs: number;
  logger: Logger;
  /** Called when this replica gains or loses the lease. */
  onChange?: (leader: boolean) => void;
}

/**
 * Holds a named lease while it can: tries to take it every third of its time to live and renews it
 * while held. `fence()` is the token writes present; it is dropped as soon as a renewal fails or the
 * lease would run out before the next renewal, so this replica stops before a survivor may start.
 */
export class SingletonLease {
  private timer: NodeJS.Timeout | undefined;
  private grant: { fence: LeaseFence; validUntil: number } | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly o: SingletonLeaseOptions) {}

  get leader(): boolean {
    return this.fence() !== undefined;
  }

  /** The current fence while the lease is held with time to spare; undefined otherwise. */
  fence(): LeaseFence | undefined {
    if (!this.grant) return undefined;
    if (Date.now() >= this.grant.validUntil) {
      this.set(undefined);
      return undefined;
    }
    return this.grant.fence;
  }

  async start(): Promise<void> {
    await this.attempt();
    this.timer = setInterval(
      () => {
        this.running ??= this.attempt().finally(() => {
          this.running = undefined;
        });
      },
      Math.max(50, Math.floor(this.o.ttlMs / 3)),
    );
    this.timer.unref();
  }

  private async attempt(): Promise<void> {
    const started = Date.now();
    try {
      const grant = await this.o.store.tryAcquire(this.o.name, this.o.holder, this.o.ttlMs);
      // Counted from before the request: the database's expiry is at least this late.
      this.set(
        grant
          ? { fence: { name: grant.name, holder: grant.holder, epoch: grant.epoch }, validUntil: started + this.o.ttlMs }
          : undefined,
      );
    } catch (error) {
      // Unreachable store: keep the lease only while it is certainly still ours.
      this.o.logger.warn(
        { code: 'VIGIL_STATE_STORE_UNAVAILABLE', lease: this.o.name, err: (error as Error).message },
        'lease renewal failed',
      );
      if (this.grant && Date.now() >= this.grant.validUntil) this.set(undefined);
    }
  }

  private set(grant: SingletonLease['grant']): void {
    const was = this.grant !== undefined;
    const changedHands = grant?.fence.epoch !== this.grant?.fence.epoch;
    this.grant = grant;
    if (was !== (grant !== undefined) || (grant && changedHands)) {
      this.o.logger.info(
        { lease: this.o.name, holder: this.o.holder, epoch: grant?.fence.epoch ?? null },
        grant ? 'lease held' : 'lease lost',
      );
      if (was !== (grant !== undefined)) this.o.onChange?.(grant !== undefined);
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
    if (this.grant) {
      this.set(undefined);
      await this.o.store.release(this.o.name, this.o.holder).catch(() => undefined);
    }
  }
}
