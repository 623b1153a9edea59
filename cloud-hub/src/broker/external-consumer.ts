import { readFileSync } from 'node:fs';
import { fleetFilter, type Logger, sharedFleetFilter, type TopicKind } from '@vigil/shared';
import mqtt, { type MqttClient } from 'mqtt';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';

export interface ExternalConsumerOptions {
  url: string;
  username: string;
  password: string;
  caFile?: string | undefined;
  /**
   * Shared-subscription group. Empty means a plain subscription on one persistent session: the
   * choice for Mosquitto, which (2.0) forgets shared subscriptions across a restart and drops
   * what arrives before the hub subscribes again. Brokers that persist them (EMQX, HiveMQ) can
   * use a group for several hub replicas.
   */
  group: string;
  /** Parallel consumer connections in the shared-subscription group (each handles messages in order). */
  consumers: number;
  clientIdPrefix: string;
  ingest: IngestPipeline;
  logger: Logger;
}

const INGESTED_KINDS: TopicKind[] = ['results', 'telemetry', 'status', 'model/reported'];

/**
 * External-broker mode: the hub is an MQTT 5 client of Mosquitto/EMQX/HiveMQ, consuming through a
 * shared subscription so several hub replicas (and several connections per replica) split the fleet.
 * mqtt.js sends each PUBACK only after `handleMessage` calls back, i.e. after the ingest commit.
 */
export class ExternalConsumer {
  private readonly clients: MqttClient[] = [];

  constructor(private readonly options: ExternalConsumerOptions) {}

  async start(): Promise<void> {
    const o = this.options;
    // Without a shared-subscription group every connection would receive every message: use one.
    const consumers = o.group ? o.consumers : 1;
    for (let i = 0; i < consumers; i++) this.clients.push(this.connect(`${o.clientIdPrefix}-${i}`));
    await Promise.all(
      this.clients.map(
        (client) =>
          new Promise<void>((resolve) => {
            if (client.connected) resolve();
            else client.once('connect', () => resolve());
          }),
      ),
    );
  }

  private connect(clientId: string): MqttClient {
    const o = this.options;
    const client = mqtt.connect(o.url, {
      clientId,
      username: o.username,
      password: o.password,
      protocolVersion: 5,
      clean: false,
      properties: { sessionExpiryInterval: 24 * 3600, receiveMaximum: 1000 },
      reconnectPeriod: 1000,
      ...(o.caFile ? { ca: readFileSync(o.caFile), rejectUnauthorized: true } : {}),
    });
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      o.ingest.submit(packet.topic, payload, clientId).then(
        () => callback(),
        () => {
          // Not committed: drop the connection without acknowledging; the broker redelivers.
          client.stream?.destroy();
        },
      );
    };
    client.on('connect', () => {
      // Subscribe on every connect, even when the broker says the session is present: Mosquitto
      // 2.0 does not restore shared subscriptions from its persistence file after a restart.
      client.subscribe(
        INGESTED_KINDS.map((kind) => (o.group ? sharedFleetFilter(o.group, kind) : fleetFilter(kind))),
        { qos: 1 },
        (error) => {
          if (error) o.logger.error({ code: 'VIGIL_MQTT_UNREACHABLE', err: error.message }, 'subscribe failed');
        },
      );
      o.logger.info({ clientId, url: o.url }, 'consuming from external broker');
    });
    client.on('error', (error) =>
      o.logger.warn({ code: 'VIGIL_MQTT_UNREACHABLE', clientId, err: error.message }, 'external broker error'),
    );
    return client;
  }

  publish(topic: string, payload: Buffer, retain: boolean): Promise<void> {
    const client = this.clients[0];
    if (!client) return Promise.reject(new Error('consumer not started'));
    return client.publishAsync(topic, payload, { qos: 1, retain }).then(() => undefined);
  }

  get connected(): boolean {
    return this.clients.length > 0 && this.clients.every((c) => c.connected);
  }

  async stop(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync()));
  }
}
