import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { onProcessEnd } from './process-end.js';
import { waitFor } from './wait-for.js';

const HUB_BIN = join(import.meta.dirname, '../../cloud-hub/bin/vigil-hub.mjs');

/** `vigil-hub serve` as a real child process (for kill -9 tests), configured through VIGIL_… variables. */
export class HubProcess {
  private child: ChildProcess | undefined;
  env: Record<string, string> = {};
  mqttPort = 0;
  httpPort = 0;

  constructor(
    private readonly dataDir: string,
    private readonly extraEnv: Record<string, string> = {},
    /** Extra node flags for profiling, e.g. ['--cpu-prof', '--cpu-prof-dir=/tmp/prof']. */
    private readonly nodeArgs: string[] = [],
  ) {
    // A hub still running when the test process ends (a runner timeout) is killed with it.
    onProcessEnd(() => this.child?.kill('SIGKILL'));
  }

  async init(): Promise<void> {
    this.mqttPort = await freePort();
    this.httpPort = await freePort();
    this.env = {
      VIGIL_DATA_DIR: this.dataDir,
      VIGIL_HTTP__PORT: String(this.httpPort),
      VIGIL_MQTT__LISTEN__PORT: String(this.mqttPort),
      ...this.extraEnv,
    };
  }

  /** The running hub's process id (for CPU accounting). */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }

  cli(args: string[]): string {
    return execFileSync(process.execPath, [HUB_BIN, ...args], { env: { ...process.env, ...this.env }, encoding: 'utf8' });
  }

  addDevice(clinicId: string, deviceId: string): string {
    return (JSON.parse(this.cli(['device', 'add', clinicId, deviceId])) as { password: string }).password;
  }

  async start(): Promise<void> {
    this.child = spawn(process.execPath, [...this.nodeArgs, HUB_BIN, 'serve'], {
      env: { ...process.env, ...this.env, VIGIL_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await waitFor('hub /readyz', async () => (await fetch(`http://127.0.0.1:${this.httpPort}/readyz`)).ok, 30_000, 100);
  }

  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }
}

/**
 * The environment of one hub replica: state on PostgreSQL at `stateUrl`, consuming from the broker
 * at `brokerUrl` with the hub's account in the shared-subscription group `vigil-hub`.
 */
export function replicaEnv(o: {
  name: string;
  stateUrl: string;
  brokerUrl: string;
  account: { username: string; password: string };
  consumers?: number;
}): Record<string, string> {
  return {
    VIGIL_CLUSTER__REPLICA_ID: o.name,
    VIGIL_STATE__DRIVER: 'postgres',
    VIGIL_STATE__URL: o.stateUrl,
    VIGIL_MQTT__MODE: 'external',
    VIGIL_MQTT__LISTEN__ENABLED: 'false',
    VIGIL_MQTT__EXTERNAL__URL: o.brokerUrl,
    VIGIL_MQTT__EXTERNAL__USERNAME: o.account.username,
    VIGIL_MQTT__EXTERNAL__PASSWORD: o.account.password,
    VIGIL_MQTT__EXTERNAL__GROUP: 'vigil-hub',
    VIGIL_MQTT__EXTERNAL__CONSUMERS: String(o.consumers ?? 4),
    VIGIL_MQTT__EXTERNAL__CLIENT_ID_PREFIX: o.name,
  };
}
