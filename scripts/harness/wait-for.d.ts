/** Polls `probe` until it returns a truthy value or the timeout passes (then throws with `what`). */
export declare function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  timeoutMs?: number,
  everyMs?: number,
): Promise<NonNullable<T>>;
