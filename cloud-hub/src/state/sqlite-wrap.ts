import { VigilError } from '@vigil/shared';

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
