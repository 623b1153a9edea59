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
import { deidSecret, type EdgeConfig, mqttPassword } from './config.js';
import { DecodePool } from './imaging/decode-pool.js';
import { analyzeImage, buildResult } from './inference/analyze-image.js';
import { OnnxModel } from './inference/onnx-model.js';
import { DicomScp } from './intake/dicom-scp.js';
import { FolderWatcher } from './intake/folder-watcher.js';
import { Spool } from './intake/spool.js';
import { Outbox } from './outbox/outbox.js';
import { type ImageHandler, ImagePipeline } from './pipeline/image-pipeline.js';
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
  intake: { spool: Spool; pool: DecodePool; pipeline: ImagePipeline; scp?: DicomScp; watcher?: FolderWatcher } | undefined;
  /** What happens to each decoded, de-identified image: inference when a model is configured. */
  private imageHandler: ImageHandler;
  private readonly customHandler: boolean;
  model: OnnxModel | undefined;

  constructor(
    readonly config: EdgeConfig,
    options: { logger?: Logger; imageHandler?: ImageHandler } = {},
  ) {
    this.customHandler = options.imageHandler !== undefined;
    this.imageHandler =
      options.imageHandler ??
      (async (image) => {
        this.logger.info({ instanceKey: image.image.instanceKey, decodeMs: Math.round(image.timingsMs.decode) }, 'image decoded');
      });
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

  /** DICOM SCP, watched folder, spool and the image pipeline, when intake is configured. */
  private startIntake(): void {
    const config = this.config;
    if (!config.dicom.enabled && !config.watchFolder.path) return;
    const spool = new Spool(config.dataDir);
    const pool = new DecodePool(config.imaging.decodeThreads || undefined);
    const pipeline = new ImagePipeline({
      spool,
      pool,
      deid: { secret: deidSecret(config), defaultIssuer: config.clinicId },
      counters: this.counters,
      logger: this.logger,
      handler: (image) => this.imageHandler(image),
      concurrency: config.imaging.concurrency,
    });
    const received = (path: string) => {
      this.counters.received += 1;
      pipeline.enqueue(path);
    };
    this.intake = { spool, pool, pipeline };
    if (config.dicom.enabled) {
      this.intake.scp = new DicomScp({
        aeTitle: config.dicom.aeTitle,
        port: config.dicom.port,
        host: '0.0.0.0',
        allowedCallingAeTitles: config.dicom.allowedCallingAeTitles,
        spool,
        logger: this.logger,
        onSpooled: received,
        onDuplicate: () => {
          this.counters.duplicates += 1;
        },
      });
    }
    if (config.watchFolder.path) {
      mkdirSync(config.watchFolder.path, { recursive: true });
      this.intake.watcher = new FolderWatcher({
        dir: config.watchFolder.path,
        spool,
        logger: this.logger,
        intervalMs: config.watchFolder.intervalMs,
        stableMs: config.watchFolder.stableMs,
        onSpooled: received,
        onQuarantined: () => {
          this.counters.quarantined += 1;
        },
      });
    }
  }

  /** Loads the configured model and makes inference the image handler. */
  private async startInference(): Promise<void> {
    if (!this.config.model.dir || this.customHandler) return;
    const model = await OnnxModel.load(this.config.model.dir, { threads: this.config.model.threads });
    this.model = model;
    this.counters.inferenceProvider = model.provider;
    this.imageHandler = async (image) => {
      const analysis = await analyzeImage(image.pixels, image.attrs, model);
      this.submitResult(buildResult(this.address, image, analysis, model));
    };
    this.logger.info({ model: model.manifest.name, version: model.manifest.version, provider: model.provider }, 'model loaded');
  }

  async start(): Promise<void> {
    await this.startInference();
    this.startIntake();
    await this.intake?.pool.warm();
    this.intake?.pipeline.start();
    await this.intake?.scp?.start();
    this.intake?.watcher?.start();
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
    this.intake?.watcher?.stop();
    this.intake?.scp?.stop();
    await this.intake?.pipeline.stop();
    await this.intake?.pool.close();
    this.intake?.spool.close();
    this.telemetry.stop();
    await this.publisher.stop();
    this.outbox.close();
    await this.model?.close();
  }
}
