// Worker thread of DurableSqlite: checkpoints a WAL-mode database from its own connection, so the
// copy of WAL frames into the database file (and its fsync) never runs on the hub's event loop.
import { statSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const { path, thresholdBytes, intervalMs } = workerData as { path: string; thresholdBytes: number; intervalMs: number };
const db = new Database(path);
db.pragma('busy_timeout = 5000');
db.pragma('synchronous = NORMAL');

function walBytes() {
  try {
    return statSync(`${path}-wal`).size;
  } catch {
    return 0;
  }
}

let stopped = false;
function tick() {
  if (stopped) return;
  try {
    // PASSIVE never waits for or blocks the writer; what it cannot copy now it copies next time.
    if (walBytes() >= thresholdBytes) db.pragma('wal_checkpoint(PASSIVE)');
  } catch (error) {
    parentPort?.postMessage({ type: 'error', message: String((error as Error)?.message ?? error) });
  }
  setTimeout(tick, intervalMs);
}
parentPort?.on('message', (message) => {
  if (message === 'stop') {
    stopped = true;
    db.close();
    parentPort?.postMessage({ type: 'stopped' });
  }
});
tick();
