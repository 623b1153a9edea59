/**
 * Cleanups that must run however a test process ends: normally, or stopped by the test runner's
 * timeout (SIGTERM) or Ctrl-C. Without them a timed-out test file left its PostgreSQL, Mosquitto or
 * influxd running. Each cleanup is synchronous (signals leave no time for promises).
 */
const cleanups = new Set<() => void>();
let installed = false;

function runAll(): void {
  for (const cleanup of [...cleanups].reverse()) {
    try {
      cleanup();
    } catch {
      // best effort: the process is ending
    }
  }
  cleanups.clear();
}

/** Registers `cleanup`; returns a function that unregisters it (call it after a normal stop). */
export function onProcessEnd(cleanup: () => void): () => void {
  if (!installed) {
    installed = true;
    process.once('exit', runAll);
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      process.once(signal, () => {
        runAll();
        process.exit(128 + (signal === 'SIGTERM' ? 15 : 2));
      });
    }
  }
  cleanups.add(cleanup);
  return () => cleanups.delete(cleanup);
}
