/**
 * Capped exponential backoff with "full jitter": a fleet that lost its broker at the same moment
 * must not reconnect in lock-step. Pure so it can be tested with a fixed random source.
 */
export interface BackoffPolicy {
  minMs: number;
  maxMs: number;
}

export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.minMs * 2 ** Math.max(0, attempt));
  return Math.round(policy.minMs + random() * Math.max(0, ceiling - policy.minMs));
}
