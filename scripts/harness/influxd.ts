import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { onProcessEnd } from './process-end.js';
import { makeTempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

/** A real InfluxDB 1.x (Debian `influxdb`) on free loopback ports with its own temp directories. */
export class InfluxdServer {
  private process: ChildProcess | undefined;
  private readonly dir = makeTempDir('influxd');
  /** Kills the server and removes its files if the test process ends without dispose(). */
  private readonly forget = onProcessEnd(() => {
    this.process?.kill('SIGKILL');
    this.dir.remove();
  });
  httpPort = 0;
  private bindPort = 0;

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }

  async start(): Promise<void> {
    if (!this.httpPort) {
      this.httpPort = await freePort();
      this.bindPort = await freePort();
    }
    const d = this.dir.path;
    const config = `
reporting-disabled = true
bind-address = "127.0.0.1:${this.bindPort}"
[meta]
  dir = "${join(d, 'meta')}"
[data]
  dir = "${join(d, 'data')}"
  wal-dir = "${join(d, 'wal')}"
  query-log-enabled = false
[http]
  enabled = true
  bind-address = "127.0.0.1:${this.httpPort}"
  log-enabled = false
[monitor]
  store-enabled = false
[continuous_queries]
  enabled = false
[subscriber]
  enabled = false
[[udp]]
  enabled = false
`;
    const configPath = join(d, 'influxdb.conf');
    writeFileSync(configPath, config);
    this.process = spawn('influxd', ['-config', configPath], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    this.process.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-4000);
    });
    const exited = new Promise<never>((_, reject) =>
      this.process?.once('exit', (code) => reject(new Error(`influxd exited with ${code}: ${stderr}`))),
    );
    exited.catch(() => undefined);
    await Promise.race([
      waitFor('influxd /ping', async () => (await fetch(`${this.url}/ping`)).status === 204, 30_000, 100),
      exited,
    ]);
  }

  /** Stops the server (SIGTERM, then SIGKILL), keeping its data for a restart on the same port. */
  async stop(): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGTERM');
    const timer = setTimeout(() => p.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(timer);
    this.process = undefined;
  }

  async query(db: string, q: string): Promise<unknown> {
    const response = await fetch(`${this.url}/query?${new URLSearchParams({ db, q, epoch: 'ms' })}`);
    return response.json();
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.dir.remove();
    this.forget();
  }
}
