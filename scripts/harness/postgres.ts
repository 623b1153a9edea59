import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { onProcessEnd } from './process-end.js';
import { makeTempDir } from './temp-dir.js';

/** Debian's PostgreSQL 15 server binaries (not on PATH). */
export const PG_BIN = '/usr/lib/postgresql/15/bin';

const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary as the `postgres` user when we are root (initdb refuses root). */
function pg(command: string, args: string[]): void {
  const bin = join(PG_BIN, command);
  const [file, argv] = asRoot ? ['runuser', ['-u', 'postgres', '--', bin, ...args]] : [bin, args];
  execFileSync(file, argv, { stdio: ['ignore', 'ignore', 'pipe'] });
}

/**
 * A real PostgreSQL 15 on a free loopback port, in its own temporary cluster (initdb, trust
 * authentication for the `vigil` superuser, a socket directory of its own). `stop()` and `start()`
 * keep the cluster and its port: the fault tests take the server away and bring it back.
 */
export class PostgresServer {
  private readonly dir = makeTempDir('postgres');
  /** Stops the cluster and removes its files if the test process ends without dispose(). */
  private readonly forget = onProcessEnd(() => this.disposeNow());
  port = 0;
  private started = false;

  get dataDir(): string {
    return join(this.dir.path, 'data');
  }

  private get socketDir(): string {
    return join(this.dir.path, 'socket');
  }

  /** A connection URL for `database` (created on first use by `createDatabase`). */
  url(database = 'postgres'): string {
    return `postgres://vigil@127.0.0.1:${this.port}/${database}`;
  }

  async start(): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (!existsSync(this.dataDir)) {
      mkdirSync(this.socketDir, { recursive: true });
      if (asRoot) {
        const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
        const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
        chmodSync(this.dir.path, 0o755);
        chownSync(this.dir.path, uid, gid);
        chownSync(this.socketDir, uid, gid);
      }
      pg('initdb', ['-D', this.dataDir, '-A', 'trust', '-U', 'vigil', '--no-sync', '-E', 'UTF8']);
    }
    pg('pg_ctl', [
      '-D',
      this.dataDir,
      '-o',
      `-p ${this.port} -k ${this.socketDir} -c listen_addresses=127.0.0.1 -c fsync=on`,
      '-l',
      join(this.dir.path, 'server.log'),
      '-w',
      '-t',
      '120',
      'start',
    ]);
    this.started = true;
  }

  /** Stops the server (fast shutdown: open connections are cut, as in an outage). */
  async stop(): Promise<void> {
    this.stopNow();
  }

  private stopNow(): void {
    if (!this.started) return;
    pg('pg_ctl', ['-D', this.dataDir, '-m', 'fast', '-w', '-t', '120', 'stop']);
    this.started = false;
  }

  /** The postmaster's process id (its backends are its children), for CPU accounting. */
  get pid(): number {
    return Number(readFileSync(join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  }

  /** Creates a database owned by `vigil` (one per test file keeps them independent). */
  createDatabase(name: string): string {
    const result = spawnSync(join(PG_BIN, 'createdb'), ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'vigil', name], {
      encoding: 'utf8',
    });
    if (result.status !== 0) throw new Error(`createdb ${name}: ${result.stderr}`);
    return this.url(name);
  }

  async dispose(): Promise<void> {
    this.disposeNow();
  }

  /** Stops the server and removes its files synchronously (usable in a process 'exit' handler). */
  disposeNow(): void {
    this.stopNow();
    this.dir.remove();
    this.forget();
  }
}
