import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test ports come from 20000–32767, below Linux's ephemeral range (32768–60999), so no server that
 * binds port 0 and no outgoing connection can ever take one. Each port is reserved across processes
 * by a lock file holding the owner's pid (test files run two at a time), and stays reserved until
 * this process exits: a broker stopped for a restart test gets its port back, because no concurrent
 * test can be handed it meanwhile (the cause of the external-broker test failing beside others).
 */
const LOCK_DIR = join(tmpdir(), 'vigil-test-ports');
const LOW = 20_000;
const HIGH = 32_767;
const held: string[] = [];
let hooked = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function reserve(port: number): boolean {
  const file = join(LOCK_DIR, String(port));
  try {
    const fd = openSync(file, 'wx');
    writeSync(fd, String(process.pid));
    closeSync(fd);
  } catch {
    // Taken: reclaim it only when its owner is gone (a killed test run).
    const owner = Number(readFileSync(file, { encoding: 'utf8', flag: 'a+' }));
    if (owner && alive(owner)) return false;
    rmSync(file, { force: true });
    return reserve(port);
  }
  held.push(file);
  if (!hooked) {
    hooked = true;
    process.once('exit', () => {
      for (const f of held) rmSync(f, { force: true });
    });
  }
  return true;
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A loopback port reserved for this test process; servers under test bind it right after. */
export async function freePort(): Promise<number> {
  mkdirSync(LOCK_DIR, { recursive: true });
  for (let attempt = 0; attempt < 1000; attempt++) {
    const port = LOW + Math.floor(Math.random() * (HIGH - LOW));
    if (!reserve(port)) continue;
    if (await bindable(port)) return port;
  }
  throw new Error('no free test port in 20000-32767');
}
