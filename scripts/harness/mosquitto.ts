import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { mosquittoAclFile } from '@vigil/cloud-hub';
import { freePort } from './free-port.js';
import { onProcessEnd } from './process-end.js';
import { makeTempDir } from './temp-dir.js';
import { waitFor } from './wait-for.js';

export interface MosquittoUser {
  username: string;
  password: string;
}

/** A second listener for devices, over TLS (the plain one stays for the hub on loopback). */
export interface MosquittoTls {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A real Mosquitto 2 on a free loopback port, with a password file and an ACL file. */
export class MosquittoServer {
  private process: ChildProcess | undefined;
  private readonly dir = makeTempDir('mosquitto');
  /** Kills the server and removes its files if the test process ends without dispose(). */
  private readonly forget = onProcessEnd(() => {
    this.process?.kill('SIGKILL');
    this.dir.remove();
  });
  port = 0;
  tlsPort = 0;
  /** The end of the broker's log (errors and warnings). */
  log = '';
  private tls: MosquittoTls | undefined;

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get tlsUrl(): string {
    return `mqtts://127.0.0.1:${this.tlsPort}`;
  }

  /**
   * Starts the broker; a restart with no arguments keeps the users, ACL, TLS listener and persisted
   * sessions. Passwords are hashed in one `mosquitto_passwd -U` run over the whole file.
   */
  async start(users?: MosquittoUser[], acl?: string, tls?: MosquittoTls): Promise<void> {
    if (!this.port) this.port = await freePort();
    if (tls) {
      this.tls = tls;
      if (!this.tlsPort) this.tlsPort = await freePort();
    }
    const d = this.dir.path;
    const passwd = join(d, 'passwd');
    if (users) {
      writeFileSync(passwd, users.map((u) => `${u.username}:${u.password}\n`).join(''));
      execFileSync('mosquitto_passwd', ['-U', passwd]);
    }
    if (acl !== undefined) writeFileSync(join(d, 'acl'), acl);
    const tlsListener = this.tls
      ? [
          `listener ${this.tlsPort} 127.0.0.1`,
          `cafile ${this.tls.caFile}`,
          `certfile ${this.tls.certFile}`,
          `keyfile ${this.tls.keyFile}`,
          'tls_version tlsv1.2',
        ]
      : [];
    writeFileSync(
      join(d, 'mosquitto.conf'),
      [
        'per_listener_settings false',
        `listener ${this.port} 127.0.0.1`,
        ...tlsListener,
        'allow_anonymous false',
        `password_file ${passwd}`,
        `acl_file ${join(d, 'acl')}`,
        'persistence true',
        `persistence_location ${d}/`,
        // Never drop QoS 1 messages queued for a slow or offline hub (docs/measurements.md).
        'max_queued_messages 0',
        'max_inflight_messages 0',
        // Run as whoever runs the tests: as root, Mosquitto would otherwise drop to a user that cannot read the temp dir.
        `user ${userInfo().username}`,
        'log_dest stderr',
        'log_type error',
        'log_type warning',
      ].join('\n'),
    );
    this.process = spawn('mosquitto', ['-c', join(d, 'mosquitto.conf')], { stdio: ['ignore', 'ignore', 'pipe'] });
    // Always read its log: an unread pipe fills (64 KiB) and Mosquitto then blocks on its next log
    // line with every connection (seen in the soak: 2 500 devices dropped at once, each a warning).
    this.process.stderr?.on('data', (chunk: Buffer) => {
      this.log = (this.log + chunk.toString()).slice(-8000);
    });
    await waitFor(
      'mosquitto port',
      () =>
        new Promise<boolean>((resolve) => {
          const socket = createConnection(this.port, '127.0.0.1');
          socket.once('connect', () => {
            socket.destroy();
            resolve(true);
          });
          socket.once('error', () => resolve(false));
        }),
      15_000,
      50,
    );
  }

  /** SIGTERM saves its persistence file first; SIGKILL loses what it held in memory (a crash). */
  async stop(signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM'): Promise<void> {
    const p = this.process;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill(signal);
    await exited;
    this.process = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop();
    this.dir.remove();
    this.forget();
  }
}

export interface MosquittoDevice {
  clinicId: string;
  deviceId: string;
  password: string;
}

/** The hub's account on a test broker. */
export const HUB_ACCOUNT = { username: 'vigil-hub', password: 'hub-password-1' } as const;

/**
 * Starts a Mosquitto with the hub's account and these devices, and the hub's own topic ACL
 * (`vigil-hub device mosquitto-acl`): what an external-broker installation runs.
 */
export async function startMosquittoForDevices(
  server: MosquittoServer,
  devices: readonly MosquittoDevice[],
  tls?: MosquittoTls,
): Promise<void> {
  await server.start(
    [HUB_ACCOUNT, ...devices.map((d) => ({ username: d.deviceId, password: d.password }))],
    mosquittoAclFile(
      devices.map((d) => ({ ...d, passwordHash: '', tags: [], createdAt: '', revokedAt: null })),
      HUB_ACCOUNT.username,
    ),
    tls,
  );
}
