import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertSchema,
  createLogger,
  type DeviceAddress,
  encodeMessage,
  type Logger,
  ResultMessage,
  topicFor,
} from '@vigil/shared';
import { type EdgeConfig, mqttPassword } from './config.js';
import { Outbox } from './outbox/outbox.js';
import { MqttPublisher } from './publish/mqtt-publisher.js';
import { PipelineCounters } from './telemetry/pipeline-counters.js';
import { TelemetrySampler } from './telemetry/telemetry-sampler.js';
import { AGENT_VERSION } from './version.js';

/** The edge agent's lifecycle: outbox, publisher and telemetry wired from one config. */
export class EdgeAgent {
  readonly address: DeviceAddress;
  readonly counters = new PipelineCounters();
  readonly logger: Logger;
  readonly outbox: Outbox;
  readonly publisher: MqttPublisher;
  readonly telemetry: TelemetrySampler;

  constructor(
    readonly config: EdgeConfig,
    options: { logger?: Logger } = {},
  ) {
    this.address = { clinicId: config.clinicId, deviceId: config.deviceId };
    this.logger = options.logger ?? createLogger('vigil-edge').child(this.address);
    mkdirSync(config.dataDir, { recursive: true });
    this.outbox = new Outbox({
      path: join(config.dataDir, 'outbox.sqlite'),
      maxBytes: config.outbox.maxBytes,
      logger: this.logger,
    });
    this.publisher = new MqttPublisher({
      address: this.address,
      url: config.mqtt.url,
      username: config.mqtt.username || config.deviceId,
      password: mqttPassword(config),
      caFile: config.mqtt.caFile || undefined,
      certFile: config.mqtt.certFile || undefined,
      keyFile: config.mqtt.keyFile || undefined,
      protocolVersion: config.mqtt.protocolVersion,
      keepaliveS: config.mqtt.keepaliveS,
      inflightWindow: config.mqtt.inflightWindow,
      reconnect: { minMs: config.mqtt.reconnectMinMs, maxMs: config.mqtt.reconnectMaxMs },
      outbox: this.outbox,
      logger: this.logger,
      statusFields: () => ({
        agentVersion: AGENT_VERSION,
        tags: [...config.tags],
        ...(this.counters.inferenceProvider ? { inferenceProvider: this.counters.inferenceProvider } : {}),
      }),
    });
    this.telemetry = new TelemetrySampler({
      address: this.address,
      intervalS: config.telemetry.intervalS,
      diskPath: config.dataDir,
      outbox: this.outbox,
      counters: this.counters,
      logger: this.logger,
    });
  }

  async start(): Promise<void> {
    this.publisher.start();
    this.telemetry.start();
    await this.telemetry.sampleAndEnqueue();
    this.logger.info({ outbox: this.outbox.stats() }, 'edge agent started');
  }

  /** Commits a result to the outbox; it is published when the broker is reachable. */
  submitResult(result: ResultMessage): boolean {
    assertSchema(ResultMessage, result, 'result');
    return this.outbox.enqueue({
      messageId: result.messageId,
      kind: 'results',
      topic: topicFor(this.address, 'results'),
      payload: encodeMessage(result),
    });
  }

  async stop(): Promise<void> {
    this.telemetry.stop();
    await this.publisher.stop();
    this.outbox.close();
  }
}
