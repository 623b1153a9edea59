import { VigilError } from '@vigil/shared';
import type { DurableSqlite } from './durable-sqlite.js';

/** Runs a synchronous better-sqlite3 call, turning driver errors into VIGIL_STATE_STORE_UNAVAILABLE. */
export function wrap<T>(what: string, fn: () => T): Promise<T> {
  try {
    return Promise.resolve(fn());
  } catch (error) {
    if (error instanceof VigilError) return Promise.reject(error);
    return Promise.reject(
      new VigilError('VIGIL_STATE_STORE_UNAVAILABLE', `state store: ${what} failed: ${(error as Error).message}`, {
        cause: error,
      }),
    );
  }
}

/** A write: the synchronous statement(s), then the fsync that makes them durable before resolving. */
export async function durableWrite<T>(what: string, fn: () => T, durable: (what: string) => Promise<void>): Promise<T> {
  const value = await wrap(what, fn);
  await durable(what);
  return value;
}

/** `durable()` of a state-store connection, its failure coded VIGIL_STATE_STORE_UNAVAILABLE naming the write. */
export function stateDurable(store: DurableSqlite): (what: string) => Promise<void> {
  return (what) =>
    store.durable().catch((error: Error) => {
      throw new VigilError('VIGIL_STATE_STORE_UNAVAILABLE', `state store: ${what} not made durable: ${error.message}`, {
        cause: error,
      });
    });
}
