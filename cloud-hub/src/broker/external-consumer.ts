import { readFileSync } from 'node:fs';
import {
  encodeMessage,
  fleetFilter,
  type Logger,
  type ResultMessage,
  sharedFleetFilter,
  type TopicKind,
  topicFor,
} from '@vigil/shared';
import mqtt, { type MqttClient } from 'mqtt';
import type { IngestPipeline } from '../ingest/ingest-pipeline.js';
import { type RejectedResult, receiptsFor } from '../ingest/receipts.js';
import type { DeviceTransport } from './device-transport.js';

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
 * Every PUBACK is sent only after the message's ingest batch committed (see `pipelineAcks`).
 */
export class ExternalConsumer implements DeviceTransport {
  readonly kind = 'external';
  readonly ports = {};
  private readonly clients: MqttClient[] = [];
  /**
   * Hub → device messages (desired models, receipts) go out on a connection of their own: QoS 1
   * publishes queued on a consumer connection while the broker restarts held up its reconnection,
   * and with it the PUBACKs of everything consumed.
   */
  private outgoing: MqttClient | undefined;
  receiptsSent = 0;

  constructor(private readonly options: ExternalConsumerOptions) {}

  async start(): Promise<void> {
    const o = this.options;
    // Without a shared-subscription group every connection would receive every message: use one.
    const consumers = o.group ? o.consumers : 1;
    for (let i = 0; i < consumers; i++) this.clients.push(this.connect(`${o.clientIdPrefix}-${i}`));
    this.outgoing = mqtt.connect(o.url, {
      clientId: `${o.clientIdPrefix}-out-${process.pid}`,
      username: o.username,
      password: o.password,
      protocolVersion: 5,
      clean: true,
      reconnectPeriod: 1000,
      ...(o.caFile ? { ca: readFileSync(o.caFile), rejectUnauthorized: true } : {}),
    });
    this.outgoing.on('error', (error) =>
      o.logger.warn({ code: 'VIGIL_MQTT_UNREACHABLE', err: error.message }, 'external broker error (outgoing)'),
    );
    await Promise.all(
      [...this.clients, this.outgoing].map(
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
      // One hub: a persistent session, so the broker keeps what arrives while the hub restarts.
      // Replicas in a shared group: a session that ends with its connection, so a dead replica
      // stops being a member at once (Mosquitto 2.0 keeps handing messages to offline members);
      // what was in flight to it is resent by its devices for want of a receipt.
      clean: Boolean(o.group),
      properties: { sessionExpiryInterval: o.group ? 0 : 24 * 3600, receiveMaximum: 1000 },
      reconnectPeriod: 1000,
      ...(o.caFile ? { ca: readFileSync(o.caFile), rejectUnauthorized: true } : {}),
    });
    const commitOf = pipelineAcks(client);
    client.handleMessage = (packet, callback) => {
      const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
      const commit = o.ingest.submit(packet.topic, payload, clientId);
      if (packet.qos > 0 && packet.messageId !== undefined) commitOf.set(packet.messageId, commit);
      else commit.catch(() => undefined);
      // Go on to the next message now: its PUBACK is held until `commit` resolves.
      callback();
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
    const client = this.outgoing;
    if (!client) return Promise.reject(new Error('consumer not started'));
    return client.publishAsync(topic, payload, { qos: 1, retain }).then(() => undefined);
  }

  get connected(): boolean {
    return this.clients.length > 0 && [...this.clients, this.outgoing].every((c) => c?.connected);
  }

  ready(): boolean {
    return this.connected;
  }

  /**
   * Publishes each receipt on its device's `receipts` topic (QoS 1). A receipt lost on the way (the
   * broker restarting) costs only a resend: the device sends the result again after its timeout and
   * the hub, which stores each id once, confirms it again.
   */
  confirm(results: readonly ResultMessage[], rejected: readonly RejectedResult[]): void {
    for (const receipt of receiptsFor(results, rejected)) {
      this.publish(topicFor(receipt, 'receipts'), encodeMessage(receipt), false).then(
        () => {
          this.receiptsSent += 1;
        },
        (error: Error) =>
          this.options.logger.warn(
            { code: 'VIGIL_MQTT_UNREACHABLE', deviceId: receipt.deviceId, err: error.message },
            'receipt not published; the device will resend and be confirmed again',
          ),
      );
    }
  }

  /** Revocation happens at the external broker (its password file and ACL). */
  disconnect(_deviceId: string): void {}

  async stop(): Promise<void> {
    const all = [...this.clients, ...(this.outgoing ? [this.outgoing] : [])];
    this.clients.length = 0;
    this.outgoing = undefined;
    await Promise.all(all.map((c) => c.endAsync()));
  }
}

type SendPacket = (packet: { cmd: string; messageId?: number }, cb?: () => void) => void;

/**
 * mqtt.js handles a connection's incoming PUBLISHes one at a time: it parses the next only once the
 * previous one's PUBACK is written. Acknowledging after commit that way puts one message per
 * connection in each ingest batch (measured: ~400 results/s per replica with four connections,
 * against ~2 800/s for a plain subscriber committing group batches). Here `handleMessage` returns
 * at once and the consumer holds each PUBACK back until the message's batch has committed, so a
 * connection has up to its receive maximum in flight and a batch holds what arrived meanwhile.
 *
 * PUBACKs still go out in the order the PUBLISHes came (as MQTT requires for QoS 1): each waits for
 * its predecessor. A commit that fails drops the connection with nothing after it acknowledged, so
 * the broker (or, through receipts, the device) sends it again; PUBACKs held for a connection that
 * has since dropped are never written to its successor. mqtt.js offers no hook for this (its
 * `customHandleAcks` runs before `handleMessage`, in the same serial chain), so the consumer wraps
 * its `_sendPacket`, the method its PUBLISH handler acknowledges through (mqtt 5.x).
 */
export function pipelineAcks(client: MqttClient): Map<number, Promise<unknown>> {
  const commits = new Map<number, Promise<unknown>>();
  const holder = client as unknown as { _sendPacket: SendPacket; stream?: { destroy(): void } };
  const send = holder._sendPacket.bind(client);
  let previous: Promise<unknown> = Promise.resolve();
  /** Bumped when a connection ends: PUBACKs held for it are dropped, never queued for the next. */
  let connection = 0;
  holder._sendPacket = (packet, cb) => {
    const commit = packet.cmd === 'puback' && packet.messageId !== undefined ? commits.get(packet.messageId) : undefined;
    if (!commit || packet.messageId === undefined) {
      send(packet, cb);
      return;
    }
    commits.delete(packet.messageId);
    const mine = connection;
    previous = Promise.all([previous, commit]).then(
      () => {
        if (mine === connection && client.connected) send(packet);
      },
      () => {
        // Not committed (or an earlier one was not): acknowledge nothing more on this connection.
        if (mine !== connection) return;
        connection += 1;
        holder.stream?.destroy();
      },
    );
    cb?.();
  };
  client.on('close', () => {
    connection += 1;
    commits.clear();
    previous = Promise.resolve();
  });
  return commits;
}
