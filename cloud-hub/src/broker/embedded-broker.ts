import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import {
  asVigilError,
  type DeviceAddress,
  encodeMessage,
  type Logger,
  newMessageId,
  type ResultMessage,
  STATUS_SCHEMA,
  type StatusMessage,
  topicFor,
  VigilError,
} from '@vigil/shared';
import { Aedes, type AuthenticateError, type Client } from 'aedes';
import type { HubMetrics } from '../http/hub-metrics.js';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import type { RejectedResult } from '../ingest/receipts.js';
import type { DeviceRegistry } from './device-registry.js';
import type { DeviceTransport } from './device-transport.js';
import { canDevicePublish, canDeviceSubscribe } from './topic-acl.js';

export interface ListenerAddress {
  host: string;
  port: number;
}

export interface EmbeddedBrokerOptions {
  plain: ListenerAddress | undefined;
  tls:
    | (ListenerAddress & {
        keyFile: string;
        certFile: string;
        caFile?: string | undefined;
        /** The hub's own device CA (PEM): certificates it issued authenticate devices. */
        deviceCaPem?: string | undefined;
        requireClientCert: boolean;
      })
    | undefined;
  registry: DeviceRegistry;
  ingest: IngestPipeline;
  logger: Logger;
  metrics: HubMetrics;
}

const deviceOf = new WeakMap<Client, DeviceAddress>();

/** CONNACK return codes (MQTT 3.1.1 §3.2.2.3): 3 server unavailable, 4 bad credentials, 5 not authorised. */
function authError(message: string, returnCode: 3 | 4 | 5): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new VigilError('VIGIL_TLS_MATERIAL_MISSING', `TLS ${what} ${path}: ${(error as Error).message}`);
  }
}

/** The MQTTS listener: the hub's certificate, and device certificates asked for (required when configured). */
function tlsServer(tls: NonNullable<EmbeddedBrokerOptions['tls']>, handle: Parameters<typeof createTlsServer>[1]) {
  const clientCas = [
    ...(tls.caFile ? [readPem(tls.caFile, 'CA')] : []),
    ...(tls.deviceCaPem ? [Buffer.from(tls.deviceCaPem)] : []),
  ];
  return createTlsServer(
    {
      key: readPem(tls.keyFile, 'key'),
      cert: readPem(tls.certFile, 'certificate'),
      ...(clientCas.length > 0 ? { ca: clientCas } : {}),
      requestCert: clientCas.length > 0,
      rejectUnauthorized: tls.requireClientCert,
      minVersion: 'TLSv1.2',
      noDelay: true,
    },
    handle,
  );
}

/**
 * The default broker: aedes in the hub process, with a loopback listener and a TLS listener. Device
 * publishes are handed to ingest inside `authorizePublish`, whose callback releases the PUBACK, so
 * a device's message is acknowledged only after the hub has committed it.
 */
export class EmbeddedBroker implements DeviceTransport {
  readonly kind = 'embedded';
  private aedes: Aedes | undefined;
  private readonly servers: Server[] = [];
  readonly ports: { plain?: number; tls?: number } = {};

  constructor(private readonly options: EmbeddedBrokerOptions) {}

  async start(): Promise<void> {
    const { ingest, logger, metrics } = this.options;
    const aedes = await Aedes.createBroker({
      heartbeatInterval: 60_000,
      connectTimeout: 10_000,
      authenticate: (client, username, password, done) => {
        const deviceId = username ?? '';
        const fail = (code: 'VIGIL_MQTT_AUTH_FAILED' | 'VIGIL_MQTT_CLIENT_ID_MISMATCH', message: string) => {
          metrics.authFailures.inc({ code });
          logger.warn({ code, clientId: client.id.slice(0, 64) }, message);
          done(authError(message, code === 'VIGIL_MQTT_AUTH_FAILED' ? 4 : 5), false);
        };
        if (client.id !== deviceId) {
          fail('VIGIL_MQTT_CLIENT_ID_MISMATCH', 'client id must equal the device id (username)');
          return;
        }
        this.verify(client, deviceId, password?.toString('utf8') ?? '').then(
          (device) => {
            deviceOf.set(client, { clinicId: device.clinicId, deviceId: device.deviceId });
            done(null, true);
          },
          (error) => {
            const vigil = asVigilError(error);
            if (vigil.code !== 'VIGIL_STATE_STORE_UNAVAILABLE') {
              fail('VIGIL_MQTT_AUTH_FAILED', vigil.message);
              return;
            }
            // The device registry cannot be read (a database outage): not the device's fault. It is
            // told "server unavailable" and retries; its results wait in its outbox.
            logger.warn({ code: vigil.code, clientId: client.id.slice(0, 64) }, 'device not admitted: state store unavailable');
            done(authError(vigil.message, 3), false);
          },
        );
      },
      authorizePublish: (client, packet, done) => {
        const device = client ? deviceOf.get(client) : undefined;
        if (!client || !device) {
          done(new Error('not a device'));
          return;
        }
        if (!canDevicePublish(device, packet.topic)) {
          metrics.aclDenied.inc({ action: 'publish' });
          logger.warn(
            { code: 'VIGIL_MQTT_ACL_DENIED', deviceId: device.deviceId, topic: packet.topic.slice(0, 200) },
            'publish denied',
          );
          // MQTT 3.1.1 has no negative PUBACK: refusing closes the connection ([MQTT-3.3.5-2]).
          done(new VigilError('VIGIL_MQTT_ACL_DENIED', `${device.deviceId} may not publish to ${packet.topic}`));
          return;
        }
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        ingest.submit(packet.topic, payload, client.id).then(
          () => done(null),
          // Not committed: withhold the PUBACK by dropping the connection; the device resends.
          (error: unknown) => done(asVigilError(error)),
        );
      },
      authorizeSubscribe: (client, subscription, done) => {
        const device = deviceOf.get(client);
        if (!device || !canDeviceSubscribe(device, subscription.topic)) {
          metrics.aclDenied.inc({ action: 'subscribe' });
          logger.warn(
            { code: 'VIGIL_MQTT_ACL_DENIED', clientId: client.id.slice(0, 64), filter: subscription.topic.slice(0, 200) },
            'subscribe denied',
          );
          done(null, null);
          return;
        }
        done(null, subscription);
      },
    });
    this.aedes = aedes;
    aedes.on('client', () => metrics.connectedDevices.set(aedes.connectedClients));
    aedes.on('clientDisconnect', (client) => {
      metrics.connectedDevices.set(aedes.connectedClients);
      this.markOffline(client, deviceOf.get(client));
    });
    aedes.on('clientError', (client, error) =>
      logger.debug({ clientId: client.id?.slice(0, 64), err: error.message }, 'client error'),
    );

    const { plain, tls } = this.options;
    if (plain) {
      // Acknowledgements are small writes after a commit: Nagle + delayed ACK would add ~40 ms to each.
      this.ports.plain = await this.listen(createServer({ noDelay: true }, aedes.handle), plain);
    }
    if (tls) this.ports.tls = await this.listen(tlsServer(tls, aedes.handle), tls);
    logger.info({ ports: this.ports }, 'embedded MQTT broker listening');
  }

  /** The live connection of a device id (aedes keeps them by client id, which is the device id). */
  private clientOf(deviceId: string): Client | undefined {
    return (this.aedes as unknown as { clients?: Record<string, Client> } | undefined)?.clients?.[deviceId];
  }

  /**
   * A device whose connection ended shows offline, whether or not a will was published: a clean
   * MQTT DISCONNECT suppresses the will, so without this a device that left without saying so stayed
   * "online" for good. Skipped when the same device already has a newer connection (a takeover).
   */
  private markOffline(client: Client, device: DeviceAddress | undefined): void {
    if (!device) return;
    const current = this.clientOf(device.deviceId);
    if (current && current !== client) return;
    const message: StatusMessage = {
      schema: STATUS_SCHEMA,
      messageId: newMessageId(),
      clinicId: device.clinicId,
      deviceId: device.deviceId,
      state: 'offline',
      at: new Date().toISOString(),
      // Empty: the hub does not know it; the stored version is kept (state store).
      agentVersion: '',
    };
    this.options.ingest
      .submit(topicFor(device, 'status'), encodeMessage(message), 'hub')
      .catch((error: unknown) =>
        this.options.logger.warn(
          { code: asVigilError(error).code, deviceId: device.deviceId },
          'could not record a device as offline',
        ),
      );
  }

  /**
   * Password, or an X.509 client certificate (verified against the CAs by TLS) that the hub issued
   * to this very device and has not revoked: a certificate of device A cannot connect as device B.
   */
  private async verify(client: Client, deviceId: string, password: string) {
    const socket = client.conn as Partial<TLSSocket>;
    if (password === '' && socket.authorized === true && typeof socket.getPeerCertificate === 'function') {
      const peer = socket.getPeerCertificate();
      const device = await this.options.registry.verifyCertificate(peer);
      if (device.deviceId === deviceId) return device;
      throw new VigilError('VIGIL_MQTT_AUTH_FAILED', `certificate does not identify device ${deviceId.slice(0, 64)}`);
    }
    return this.options.registry.verify(deviceId, password, (client.conn as Partial<TLSSocket>).remoteAddress ?? 'unknown');
  }

  private listen(server: Server, address: ListenerAddress): Promise<number> {
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(address.port, address.host, () => {
        server.off('error', reject);
        this.servers.push(server);
        const bound = server.address();
        resolve(typeof bound === 'object' && bound ? bound.port : address.port);
      });
    });
  }

  /** Hub → device messages (model/desired), retained so an offline device gets it on reconnect. */
  publish(topic: string, payload: Buffer, retain: boolean): Promise<void> {
    const aedes = this.aedes;
    if (!aedes) return Promise.reject(new Error('broker not started'));
    return new Promise((resolve, reject) =>
      aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain, dup: false }, (error) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  ready(): boolean {
    return this.ports.plain !== undefined || this.ports.tls !== undefined;
  }

  /** The PUBACK, released after the commit, is the device's receipt: nothing more to send. */
  confirm(_results: readonly ResultMessage[], _rejected: readonly RejectedResult[]): void {}

  /** Drops a device's live connection (after revocation). */
  disconnect(deviceId: string): void {
    this.clientOf(deviceId)?.close();
  }

  get connectedClients(): number {
    return this.aedes?.connectedClients ?? 0;
  }

  async stop(): Promise<void> {
    const closed = this.servers.map((server) => new Promise<void>((resolve) => server.close(() => resolve())));
    const aedes = this.aedes;
    if (aedes) await new Promise<void>((resolve) => aedes.close(() => resolve()));
    await Promise.all(closed);
  }
}
