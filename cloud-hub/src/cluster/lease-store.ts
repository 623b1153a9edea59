/** A held lease: `epoch` grows each time the lease changes hands, so a stale holder can be told apart. */
export interface LeaseGrant {
  name: string;
  holder: string;
  epoch: number;
  expiresAt: string;
}

/** Proof of leadership a write presents; the store refuses it unless it is still the current lease. */
export type LeaseFence = Pick<LeaseGrant, 'name' | 'holder' | 'epoch'>;

/**
 * Named leases for work that must run once across hub replicas (rollout ticks, overdue sweeps).
 * Time is the database's: replicas' clocks never decide who holds a lease.
 */
export interface LeaseStore {
  /**
   * Takes or renews `name` for `ttlMs`: granted when it is free, expired, or already held by
   * `holder` (renewal keeps the epoch; a takeover increments it). Null while another holds it.
   */
  tryAcquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null>;
  /** Gives the lease up at once (a clean stop), so a survivor need not wait for it to expire. */
  release(name: string, holder: string): Promise<void>;
  current(name: string): Promise<LeaseGrant | undefined>;
}
