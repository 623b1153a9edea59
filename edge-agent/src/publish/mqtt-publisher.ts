import { readFileSync } from 'node:fs';
import type { TopicKind } from '@vigil/shared';
import {
  asVigilError,
  type BackoffPolicy,
  backoffDelay,
  type DeviceAddress,
  decodeMessage,
  encodeMessage,
  type Logger,
  newMessageId,
  type ReceiptMessage,
  STATUS_SCHEMA,
  type StatusMessage,
  topicFor,
  VigilError,
} from '@vigil/shared';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import type { Outbox, StoredMessage } from '../outbox/outbox.js';

export interface PublisherOptions {
  address: DeviceAddress;
  url: string;
  username: string;
  password: string;
  /** PEM CA bundle to pin: only a broker certificate issued by it is accepted. */
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  /** MQTT 3.1.1 (4) for the embedded aedes broker, 5 for external brokers that speak it. */
  protocolVersion: 4 | 5;
  keepaliveS: number;
  inflightWindow: number;
  reconnect: BackoffPolicy;
  /** Unacknowledged publishes older than this are sent again (the hub dedupes by message id). */
  inflightTimeoutMs?: number;
  outbox: Outbox;
  logger: Logger;
  statusFields: () => Pick<StatusMessage, 'agentVersion' | 'model' | 'inferenceProvider' | 'tags'>;
  /** Called once per acknowledged message with the time it was sent (for latency measurements). */
  onAcknowledged?: (message: StoredMessage, sentAtMs: number) => void;
  /**
   * End-to-end receipts (external-broker mode): a result leaves the outbox only when the hub's
   * receipt names it, not at the broker's PUBACK; one not confirmed within `timeoutMs` is sent again,
   * the wait doubling per attempt up to `maxTimeoutMs`.
   */
  receipts?: { timeoutMs: number; maxTimeoutMs: number } | undefined;
}

/** A result the broker has acknowledged and the hub has not yet confirmed. */
interface AwaitingReceipt {
  message: StoredMessage;
  sentAt: number;
  waitMs: number;
}

/** Receipts are small; one naming 10 000 ids is about 300 KiB. */
const MAX_RECEIPT_BYTES = 1024 * 1024;

type PublisherEvents = 'connected' | 'disconnected';

/**
 * Drains the outbox to the broker with QoS 1 and a bounded in-flight window; deletes a message only
 * after its PUBACK. Keeps a persistent session, a retained status with an "offline" last will, and
 * reconnects with capped, jittered backoff.
 */
export class MqttPublisher {
  private client: MqttClient | undefined;
  private readonly inflight = new Map<number, number>();
  private cursor = 0;
  private attempt = 0;
  private stopped = false;
  private draining = false;
  private readonly listeners = new Map<PublisherEvents, Set<() => void>>();
  private readonly onEnqueued = () => this.drain();
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly handlers = new Map<string, (topic: string, payload: Buffer) => void>();
  private readonly awaiting = new Map<string, AwaitingReceipt>();
  private readonly awaitingSeqs = new Set<number>();
  /** How long the next wait for each result's receipt is (doubles per resend). */
  private readonly receiptWaits = new Map<string, number>();
  published = 0;
  /** Results confirmed by a hub receipt; receipt ids this device was not waiting for. */
  confirmed = 0;
  unknownReceiptIds = 0;
  lastError: VigilError | undefined;

  constructor(private readonly options: PublisherOptions) {
    if (options.receipts) this.onTopic('receipts', (topic, payload) => this.onReceipt(topic, payload));
  }

  /** Results sent and acknowledged by the broker, waiting for the hub's receipt. */
  get awaitingReceipts(): number {
    return this.awaiting.size;
  }

  private onReceipt(topic: string, payload: Buffer): void {
    let receipt: ReceiptMessage;
    try {
      const decoded = decodeMessage(topic, payload, MAX_RECEIPT_BYTES);
      receipt = decoded.message as ReceiptMessage;
      if (decoded.kind !== 'receipts' || receipt.deviceId !== this.options.address.deviceId) {
        throw new VigilError('VIGIL_PAYLOAD_IDENTITY_MISMATCH', 'a receipt for another device');
      }
    } catch (error) {
      const vigil = asVigilError(error);
      this.options.logger.warn({ code: vigil.code }, `receipt ignored: ${vigil.message}`);
      return;
    }
    for (const id of receipt.committed) this.confirm(id);
    for (const r of receipt.rejected ?? []) {
      // The hub dead-lettered it: it will never be stored, so resending is pointless.
      if (this.confirm(r.messageId)) {
        this.options.logger.error(
          { code: r.reason.code, messageId: r.messageId },
          `result rejected by the hub: ${r.reason.message}`,
        );
      }
    }
  }

  /** Deletes a confirmed result from the outbox; false when this device was not waiting for it. */
  private confirm(messageId: string): boolean {
    const waiting = this.awaiting.get(messageId);
    if (!waiting) {
      // Unknown (a forged receipt, or one for a result confirmed already): changes nothing.
      this.unknownReceiptIds += 1;
      return false;
    }
    this.awaiting.delete(messageId);
    this.awaitingSeqs.delete(waiting.message.seq);
    this.receiptWaits.delete(messageId);
    this.options.outbox.ack(waiting.message.seq, waiting.message.bytes);
    this.confirmed += 1;
    this.options.onAcknowledged?.(waiting.message, waiting.sentAt);
    return true;
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  on(event: PublisherEvents, listener: () => void): void {
    let set = this.listeners.get(event);
    if (!set) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener);
  }

  private emit(event: PublisherEvents): void {
    for (const listener of this.listeners.get(event) ?? []) listener();
  }

  /** Receives messages on one of the device's own topics (e.g. model/desired); subscribed at every connect. */
  onTopic(kind: TopicKind, handler: (topic: string, payload: Buffer) => void): void {
    const topic = topicFor(this.options.address, kind);
    this.handlers.set(topic, handler);
    if (this.client?.connected) this.client.subscribe(topic, { qos: 1 });
  }

  /** Publishes the retained "online" status again (after the active model changed). */
  /**
   * Re-reads the client certificate and key (renewed); the next connection uses them. A live
   * connection is dropped so that it is the next one now: the client reconnects on its own, and
   * whatever was in flight is sent again from the outbox (the hub de-duplicates). Not `end()`:
   * ending waits for in-flight messages, which may never complete on a failing connection.
   */
  reloadCredentials(): void {
    const client = this.client;
    const o = this.options;
    if (!client || this.stopped || !o.certFile || !o.keyFile) return;
    client.options.cert = readFileSync(o.certFile);
    client.options.key = readFileSync(o.keyFile);
    if (client.connected) client.stream.destroy();
  }

  refreshStatus(): void {
    if (this.client?.connected) {
      this.client.publish(topicFor(this.options.address, 'status'), this.status('online'), { qos: 1, retain: true });
    }
  }

  private status(state: 'online' | 'offline'): Buffer {
    const { address } = this.options;
    const message: StatusMessage = {
      schema: STATUS_SCHEMA,
      messageId: newMessageId(),
      clinicId: address.clinicId,
      deviceId: address.deviceId,
      state,
      at: new Date().toISOString(),
      ...this.options.statusFields(),
    };
    return encodeMessage(message);
  }

  start(): void {
    const o = this.options;
    const statusTopic = topicFor(o.address, 'status');
    const clientOptions: IClientOptions = {
      clientId: o.address.deviceId,
      username: o.username,
      password: o.password,
      protocolVersion: o.protocolVersion,
      clean: false,
      keepalive: o.keepaliveS,
      connectTimeout: 10_000,
      reconnectPeriod: backoffDelay(0, o.reconnect),
      resubscribe: true,
      // A refused CONNACK (e.g. credentials not registered yet) is retried with the same backoff.
      reconnectOnConnackError: true,
      will: { topic: statusTopic, payload: this.status('offline'), qos: 1, retain: true },
      ...(o.protocolVersion === 5 ? { properties: { sessionExpiryInterval: 7 * 24 * 3600 } } : {}),
      ...(o.caFile ? { ca: readFileSync(o.caFile), rejectUnauthorized: true } : {}),
      ...(o.certFile && o.keyFile ? { cert: readFileSync(o.certFile), key: readFileSync(o.keyFile) } : {}),
    };
    const client = mqtt.connect(o.url, clientOptions);
    this.client = client;
    o.outbox.on('enqueued', this.onEnqueued);

    client.on('connect', () => {
      this.attempt = 0;
      this.lastError = undefined;
      client.options.reconnectPeriod = backoffDelay(0, o.reconnect);
      o.logger.info({ url: o.url, deviceId: o.address.deviceId }, 'connected to broker');
      client.publish(statusTopic, this.status('online'), { qos: 1, retain: true });
      if (this.handlers.size > 0) client.subscribe([...this.handlers.keys()], { qos: 1 });
      this.cursor = 0;
      this.emit('connected');
      this.drain();
    });
    client.on('message', (topic, payload) => this.handlers.get(topic)?.(topic, payload));
    client.on('close', () => {
      if (this.stopped) return;
      this.attempt += 1;
      const delay = backoffDelay(this.attempt, o.reconnect);
      client.options.reconnectPeriod = delay;
      this.emit('disconnected');
      o.logger.warn(
        { code: this.lastError?.code ?? 'VIGIL_MQTT_UNREACHABLE', attempt: this.attempt, retryInMs: delay },
        'broker connection closed; outbox keeps messages',
      );
    });
    client.on('error', (error) => {
      const reason = (error as { code?: number }).code;
      const authFailure = reason === 4 || reason === 5 || reason === 0x86 || reason === 0x87;
      this.lastError = new VigilError(
        authFailure ? 'VIGIL_MQTT_AUTH_FAILED' : 'VIGIL_MQTT_UNREACHABLE',
        `broker ${o.url}: ${error.message}`,
      );
      o.logger.error({ code: this.lastError.code, err: error.message }, 'broker error');
    });
    const shortestWait = Math.min(o.inflightTimeoutMs ?? 60_000, o.receipts?.timeoutMs ?? Number.POSITIVE_INFINITY);
    this.watchdog = setInterval(() => this.expireInflight(), Math.max(250, shortestWait / 4));
    this.watchdog.unref();
  }

  private expireInflight(): void {
    const limit = this.options.inflightTimeoutMs ?? 60_000;
    const now = Date.now();
    let expired = 0;
    for (const [seq, sentAt] of this.inflight) {
      if (now - sentAt > limit) {
        this.inflight.delete(seq);
        expired += 1;
      }
    }
    // Results the broker took but the hub never confirmed (a consumer that died, a broker that lost
    // them): sent again, with a longer wait each time. The hub stores each id once.
    for (const [id, waiting] of this.awaiting) {
      if (now - waiting.sentAt <= waiting.waitMs) continue;
      this.awaiting.delete(id);
      this.awaitingSeqs.delete(waiting.message.seq);
      this.receiptWaits.set(id, Math.min(waiting.waitMs * 2, this.options.receipts?.maxTimeoutMs ?? waiting.waitMs));
      expired += 1;
    }
    if (expired > 0) {
      this.cursor = 0;
      this.drain();
    }
  }

  /** Fills the in-flight window from the outbox, oldest first. */
  drain(): void {
    const client = this.client;
    if (!client?.connected || this.draining || this.stopped) return;
    this.draining = true;
    try {
      const { outbox, inflightWindow } = this.options;
      while (this.inflight.size < inflightWindow) {
        const batch = outbox.after(this.cursor, inflightWindow - this.inflight.size);
        if (batch.length === 0) break;
        for (const message of batch) {
          this.cursor = Math.max(this.cursor, message.seq);
          // Skip what is on its way: waiting for a PUBACK, or for the hub's receipt.
          if (this.inflight.has(message.seq) || this.awaitingSeqs.has(message.seq)) continue;
          this.send(client, message);
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private send(client: MqttClient, message: StoredMessage): void {
    this.inflight.set(message.seq, Date.now());
    const sentAt = Date.now();
    client.publish(message.topic, message.payload, { qos: 1, retain: message.retain === true }, (error) => {
      if (!this.inflight.delete(message.seq)) return;
      if (error) {
        // Not acknowledged: it stays in the outbox and goes again after the cursor rewinds.
        this.lastError = new VigilError('VIGIL_MQTT_PUBLISH_REFUSED', `publish ${message.messageId}: ${error.message}`);
        this.options.logger.warn({ code: this.lastError.code, messageId: message.messageId }, 'publish not acknowledged');
        this.cursor = Math.min(this.cursor, message.seq - 1);
        this.scheduleRetry();
        return;
      }
      this.published += 1;
      const receipts = this.options.receipts;
      if (receipts && message.kind === 'results') {
        // The broker has it; the outbox keeps it until the hub says it committed it.
        const waitMs = this.receiptWaits.get(message.messageId) ?? receipts.timeoutMs;
        this.awaiting.set(message.messageId, { message, sentAt, waitMs });
        this.awaitingSeqs.add(message.seq);
      } else {
        this.options.outbox.ack(message.seq, message.bytes);
        this.options.onAcknowledged?.(message, sentAt);
      }
      // Refill in chunks rather than one query per acknowledgement.
      if (this.inflight.size <= Math.floor(this.options.inflightWindow * 0.75)) this.drain();
    });
  }

  /** After a failed publish nothing else may wake the drain loop: try again shortly. */
  private scheduleRetry(): void {
    if (this.retryTimer || this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.drain();
    }, this.options.reconnect.minMs);
    this.retryTimer.unref();
  }

  get inflightCount(): number {
    return this.inflight.size;
  }

  /** Graceful stop: publish "offline" (retained), wait briefly for in-flight acks, disconnect. */
  async stop(): Promise<void> {
    if (this.watchdog) clearInterval(this.watchdog);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.options.outbox.off('enqueued', this.onEnqueued);
    const client = this.client;
    if (!client) return;
    if (client.connected) {
      await new Promise<void>((resolve) => {
        client.publish(topicFor(this.options.address, 'status'), this.status('offline'), { qos: 1, retain: true }, () =>
          resolve(),
        );
        setTimeout(resolve, 2000).unref();
      });
    }
    this.stopped = true;
    // A graceful end waits for in-flight publishes, which never complete on a connection the hub is
    // dropping (a revoked device, a hub going away): after a bound the client is ended by force.
    // Anything unacknowledged is still in the outbox and goes again at the next start.
    const ended = await Promise.race([
      client.endAsync(false).then(
        () => true,
        () => true,
      ),
      new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref()),
    ]);
    if (!ended) await client.endAsync(true).catch(() => undefined);
    this.options.outbox.flushAcks();
  }
}
