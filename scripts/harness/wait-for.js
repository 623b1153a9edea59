import { setTimeout as sleep } from 'node:timers/promises';
/** Polls `probe` until it returns a truthy value or the timeout passes (then throws with `what`). */
export async function waitFor(what, probe, timeoutMs = 20_000, everyMs = 50) {
  const deadline = Date.now() + timeoutMs;
  let last;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? ` (last error: ${String(last)})` : ''}`);
}
//# sourceMappingURL=wait-for.js.map
