import type { FastifyRateLimitStore, FastifyRateLimitStoreCtor } from '@fastify/rate-limit';
import type { CounterStore } from '../cluster/counter-store.js';

/**
 * A store for `@fastify/rate-limit` over the hub's shared counters: with replicas the count of a
 * user or address is the database's, so a client spreading requests over replicas gets no more
 * than one replica would give it. (The plugin's own stores are in-process or Redis; Vigil runs
 * no Redis, so this adapter is the ~20 lines between the plugin's callback API and the counters.)
 */
export function counterRateLimitStore(counters: CounterStore): FastifyRateLimitStoreCtor {
  class CounterRateLimitStore implements FastifyRateLimitStore {
    incr(key: string, callback: (error: Error | null, result?: { current: number; ttl: number }) => void, timeWindow: number) {
      counters.hit(`rate:${key}`, timeWindow).then(
        (r) => callback(null, { current: r.count, ttl: r.ttlMs }),
        (error: Error) => callback(error),
      );
    }

    child(): FastifyRateLimitStore {
      return new CounterRateLimitStore();
    }
  }
  return CounterRateLimitStore;
}
