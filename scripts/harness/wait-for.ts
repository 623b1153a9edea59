import { setTimeout as sleep } from 'node:timers/promises';

/**
 * The least time any wait is given. A wait's timeout only bounds a hang: on a loaded two-core CI
 * machine (or beside another test file) a condition can take many times longer than on a quiet one,
 * so no caller's budget is taken as a wall-clock promise (VIGIL_TEST_MIN_WAIT_MS overrides it).
 */
const MIN_WAIT_MS = Number(process.env.VIGIL_TEST_MIN_WAIT_MS ?? 180_000);

/** Polls `probe` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  requestedMs = 20_000,
  everyMs = 50,
): Promise<NonNullable<T>> {
  const timeoutMs = Math.max(requestedMs, MIN_WAIT_MS);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value as NonNullable<T>;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
