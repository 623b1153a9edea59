/**
 * Counters every hub replica sees alike: request rate limits and failed-login lockouts. With one
 * hub (SQLite) they live in the process; with replicas they live in the shared database, so an
 * address cannot multiply its attempts by the number of replicas behind a load balancer.
 * Counters are soft state: losing them (a database restart) only resets limits.
 */
export interface CounterStore {
  /**
   * Counts one request on `key` in a fixed window of `windowMs` that starts at the key's first
   * request; returns the count so far in that window and the milliseconds left in it.
   */
  hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }>;
  /**
   * Counts one failure on `key`. A failure more than `lockMs` after the previous one starts a new
   * count; the `threshold`-th locks the key for `lockMs` (and starts the count again). True when
   * this failure locked it.
   */
  fail(key: string, threshold: number, lockMs: number): Promise<boolean>;
  /** Milliseconds until `key` may try again, or 0. */
  lockedFor(key: string): Promise<number>;
  /** Forgets `key`'s failures (a success). */
  clearFailure(key: string): Promise<void>;
  /** Forgets every failure key starting with `prefix` (an admin lifting a user's lockouts). */
  clearFailures(prefix: string): Promise<void>;
}

interface Failure {
  failures: number;
  lastAt: number;
  lockedUntil: number;
}

/**
 * Counters in this process, bounded: past `maxKeys` the oldest keys are forgotten, so spraying
 * random names or addresses cannot grow them without limit. For a single hub process (SQLite), and
 * the model the database implementation is tested against. Pure logic; the clock is injectable.
 */
export class MemoryCounters implements CounterStore {
  private readonly windows = new Map<string, { count: number; endsAt: number }>();
  private readonly failures = new Map<string, Failure>();

  constructor(
    private readonly maxKeys = 100_000,
    private readonly now: () => number = Date.now,
  ) {}

  private bound<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    while (map.size > this.maxKeys) map.delete(map.keys().next().value as string);
  }

  async hit(key: string, windowMs: number): Promise<{ count: number; ttlMs: number }> {
    const now = this.now();
    let w = this.windows.get(key);
    if (!w || w.endsAt <= now) w = { count: 0, endsAt: now + windowMs };
    w.count += 1;
    this.bound(this.windows, key, w);
    return { count: w.count, ttlMs: w.endsAt - now };
  }

  async fail(key: string, threshold: number, lockMs: number): Promise<boolean> {
    const now = this.now();
    let f = this.failures.get(key);
    if (!f || now - f.lastAt > lockMs) f = { failures: 0, lastAt: now, lockedUntil: f?.lockedUntil ?? 0 };
    f.failures += 1;
    f.lastAt = now;
    let locked = false;
    if (f.failures >= threshold) {
      f.failures = 0;
      f.lockedUntil = now + lockMs;
      locked = true;
    }
    this.bound(this.failures, key, f);
    return locked;
  }

  async lockedFor(key: string): Promise<number> {
    const f = this.failures.get(key);
    return f ? Math.max(f.lockedUntil - this.now(), 0) : 0;
  }

  async clearFailure(key: string): Promise<void> {
    this.failures.delete(key);
  }

  async clearFailures(prefix: string): Promise<void> {
    for (const key of [...this.failures.keys()]) if (key.startsWith(prefix)) this.failures.delete(key);
  }
}
