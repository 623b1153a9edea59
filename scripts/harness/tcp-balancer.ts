import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { freePort } from './free-port.js';

/**
 * A loopback TCP load balancer in front of hub replicas: each connection goes to the first backend
 * that accepts it, in turn, skipping backends that refuse (a killed replica). What a hospital's
 * HAProxy or Kubernetes Service does, reduced to what the replica tests need.
 */
export class TcpBalancer {
  private server: Server | undefined;
  private next = 0;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly backends: () => readonly number[]) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.port = await freePort();
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      this.route(client, 0);
    });
    await new Promise<void>((resolve) => this.server?.listen(this.port, '127.0.0.1', resolve));
  }

  private route(client: Socket, tried: number): void {
    const ports = this.backends();
    if (tried >= ports.length) {
      client.destroy();
      return;
    }
    const port = ports[this.next++ % ports.length] as number;
    const upstream = createConnection(port, '127.0.0.1');
    upstream.once('connect', () => {
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    upstream.once('error', (error) => {
      if (upstream.readyState !== 'open' && !client.destroyed) this.route(client, tried + 1);
      else client.destroy(error);
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
