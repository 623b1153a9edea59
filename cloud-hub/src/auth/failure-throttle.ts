/**
 * Counts failures per key (an address, a username, a device id, or a pair of them) and locks a key
 * out for a while once it reaches its threshold. In memory and bounded: past `maxKeys` the oldest
 * entries are forgotten, so an attacker spraying random names cannot grow it without limit. Pure
 * logic (no I/O); the clock is injectable for tests. Written here rather than taken from a library
 * because it is ~40 lines and the rate-limit plugins count requests, not failures.
 */
export class FailureThrottle {
  private readonly entries = new Map<string, { failures: number; lockedUntil: number; lastAt: number }>();

  constructor(
    private readonly options: { threshold: number; lockMs: number; maxKeys?: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** Milliseconds until `key` may try again, or 0. */
  lockedFor(key: string): number {
    const entry = this.entries.get(key);
    if (!entry) return 0;
    const left = entry.lockedUntil - this.now();
    return Math.max(left, 0);
  }

  /** Counts one failure; true when this failure locked the key. */
  fail(key: string): boolean {
    const now = this.now();
    let entry = this.entries.get(key);
    // A failure long after the last one (a lock's length) starts a new count.
    if (!entry || now - entry.lastAt > this.options.lockMs) entry = { failures: 0, lockedUntil: 0, lastAt: now };
    this.entries.delete(key);
    entry.failures += 1;
    entry.lastAt = now;
    let locked = false;
    if (entry.failures >= this.options.threshold) {
      entry.failures = 0;
      entry.lockedUntil = now + this.options.lockMs;
      locked = true;
    }
    this.entries.set(key, entry);
    const max = this.options.maxKeys ?? 100_000;
    while (this.entries.size > max) this.entries.delete(this.entries.keys().next().value as string);
    return locked;
  }

  clear(key: string): void {
    this.entries.delete(key);
  }

  /** Forgets every key that starts with `prefix` (an admin lifting all of one user's lockouts). */
  clearPrefix(prefix: string): void {
    for (const key of [...this.entries.keys()]) if (key.startsWith(prefix)) this.entries.delete(key);
  }
}
