import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertSchema,
  asVigilError,
  createLogger,
  type DeviceAddress,
  decodeMessage,
  encodeMessage,
  Lifecycle,
  type Logger,
  type ModelDesiredMessage,
  type Part,
  ResultMessage,
  topicFor,
  trustedKeys,
} from '@vigil/shared';
import type { AtRest } from './at-rest/at-rest-cipher.js';
import { atRestFromConfig, checkAtRestKeys } from './at-rest/at-rest-setup.js';
import { type EdgeConfig, trustedKeyPems } from './config.js';
import { type EdgeReid, pacsFor, publisherFor, reidFor, resultSinksFor, startReid } from './edge-wiring.js';
import { type DeviceCredentials, deviceCredentials } from './identity/device-credentials.js';
import type { OnnxModel } from './inference/onnx-model.js';
import { inputSpecOf } from './inference/preprocess.js';
import { buildIntake, type Intake } from './intake/intake-setup.js';
import { ModelManager, type SelfTest } from './models/model-manager.js';
import { Outbox } from './outbox/outbox.js';
import { ImageProcessor, type ImageSink, type ResultSink } from './pipeline/image-processor.js';
import { OverlayStage } from './pipeline/overlay-stage.js';
import type { MqttPublisher } from './publish/mqtt-publisher.js';
import type { PacsService } from './reporting/pacs-service.js';
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
  /** Encryption of what the edge keeps on disk (spool, quarantine, overlays, outbox payloads). */
  readonly atRest: AtRest;
  /** How this device authenticates to the hub (certificate once enrolled, else password). */
  readonly credentials: DeviceCredentials;
  readonly telemetry: TelemetrySampler;
  intake: Intake | undefined;
  /** Infer → result → sinks, for every decoded, de-identified image. */
  readonly processor: ImageProcessor;
  /** Results back to the clinic's PACS (config pacs.enabled). */
  readonly pacs: PacsService | undefined;
  /** Names for pseudonyms, inside the clinic (config reid.enabled). */
  readonly reid: EdgeReid | undefined;
  models: ModelManager | undefined;
  private readonly selfTest: SelfTest | undefined;
  private readonly lifecycle = new Lifecycle((part, error) =>
    this.logger.error({ code: 'VIGIL_INTERNAL', part, err: error.message }, 'stopping a part failed'),
  );
  private closed = false;

  constructor(
    readonly config: EdgeConfig,
    options: {
      logger?: Logger;
      /** Also see every prepared image (before inference), e.g. to check de-identification. */
      imageSinks?: ImageSink[];
      /** Further sinks for analysed images, after the agent's own. */
      resultSinks?: ResultSink[];
      /** The model self-test (default: the package's reference image); tests inject a faulty provider here. */
      selfTest?: SelfTest;
    } = {},
  ) {
    this.selfTest = options.selfTest;
    this.address = { clinicId: config.clinicId, deviceId: config.deviceId };
    this.logger = options.logger ?? createLogger('vigil-edge').child(this.address);
    mkdirSync(config.dataDir, { recursive: true });
    this.atRest = atRestFromConfig(config);
    this.outbox = new Outbox({
      path: join(config.dataDir, 'outbox.sqlite'),
      maxBytes: config.outbox.maxBytes,
      logger: this.logger,
      atRest: this.atRest,
    });
    this.credentials = deviceCredentials(config, this.logger);
    this.publisher = publisherFor(config, {
      address: this.address,
      credentials: this.credentials,
      outbox: this.outbox,
      logger: this.logger,
      statusFields: () => ({
        agentVersion: AGENT_VERSION,
        tags: [...config.tags],
        ...(this.counters.inferenceProvider ? { inferenceProvider: this.counters.inferenceProvider } : {}),
        ...(this.models?.active ? { model: this.models.active.ref } : {}),
      }),
    });
    this.pacs = pacsFor(config, this.logger, this.atRest);
    const pacs = this.pacs;
    this.reid = reidFor(config, { logger: this.logger, credentials: this.credentials, atRest: this.atRest });
    this.telemetry = new TelemetrySampler({
      address: this.address,
      intervalS: config.telemetry.intervalS,
      diskPath: config.dataDir,
      outbox: this.outbox,
      counters: this.counters,
      logger: this.logger,
      ...(pacs ? { pacs: () => pacs.health() } : {}),
      reidUrl: () => this.reidUrl(),
    });
    const agent = this;
    const sinks = resultSinksFor(config, {
      pacs,
      reid: this.reid,
      logger: this.logger,
      outbox: { name: 'outbox', accept: async (a) => void this.submitResult(a.result) },
      extra: options.resultSinks ?? [],
    });
    this.processor = new ImageProcessor({
      address: this.address,
      models: {
        get active() {
          return agent.models?.active;
        },
        get shadow() {
          return agent.models?.shadow;
        },
      },
      decorators: config.overlay.enabled
        ? [
            new OverlayStage({
              dir: join(config.dataDir, 'overlays'),
              send: config.overlay.send,
              logger: this.logger,
              atRest: this.atRest,
            }),
          ]
        : [],
      sinks,
      imageSinks: options.imageSinks ?? [],
      logger: this.logger,
    });
  }

  /** DICOM SCP, watched folder, spool and the image pipeline, when intake is configured. */
  private startIntake(): void {
    this.intake = buildIntake(this.config, {
      atRest: this.atRest,
      counters: this.counters,
      logger: this.logger,
      handler: (image) => this.processor.process(image),
      inputSpec: () => {
        const active = this.models?.active?.model;
        return active ? inputSpecOf(active.manifest) : undefined;
      },
    });
  }

  /** The active model (and a shadow candidate, if any) analyse every image; fleet rollouts swap them. */
  get model(): OnnxModel | undefined {
    return this.models?.active?.model;
  }

  private async startInference(): Promise<void> {
    const keys = trustedKeys(trustedKeyPems(this.config));
    if (!this.config.model.dir && keys.size === 0) return;
    const models = new ModelManager({
      address: this.address,
      dataDir: this.config.dataDir,
      trustedKeys: keys,
      threads: this.config.model.threads,
      http: this.credentials.http,
      logger: this.logger,
      ...(this.selfTest ? { selfTest: this.selfTest } : {}),
      report: (message) =>
        this.outbox.enqueue({
          messageId: message.messageId,
          kind: 'model/reported',
          topic: topicFor(this.address, 'model/reported'),
          payload: encodeMessage(message),
          retain: true,
        }),
      onActiveChanged: (model) => {
        this.counters.inferenceProvider = model.provider;
        this.counters.inferenceCpuReason = model.cpuReason;
        this.publisher.refreshStatus();
        this.logger.info(
          { model: model.manifest.name, version: model.manifest.version, provider: model.provider, cpuReason: model.cpuReason },
          'model active',
        );
      },
    });
    this.models = models;
    await models.start(this.config.model.dir || undefined);
    this.publisher.onTopic('model/desired', (topic, payload) => {
      try {
        const decoded = decodeMessage(topic, payload, 64 * 1024);
        if (decoded.kind === 'model/desired') models.onDesired(decoded.message as ModelDesiredMessage);
      } catch (error) {
        const vigil = asVigilError(error);
        this.logger.error({ code: vigil.code }, `ignored a malformed desired-model message: ${vigil.message}`);
      }
    });
  }

  /**
   * The agent's parts in start order (stopped in reverse): keys and identity first (the model download
   * and MQTT use the certificate), intake before the listeners that feed it, telemetry last.
   */
  private parts(): Part[] {
    const { identity, pendingToken, usesCertificate } = this.credentials;
    return [
      {
        name: 'at-rest keys',
        start: () => checkAtRestKeys(this.config.dataDir, this.atRest, this.outbox),
        stop: () => undefined,
      },
      {
        name: 'identity',
        // A refused token stops the start with its code (VIGIL_ENROL_TOKEN_USED, …): nothing would work without an identity.
        start: async () => {
          if (pendingToken) await identity.enrol(pendingToken);
          if (usesCertificate) identity.startRenewal(() => this.publisher.reloadCredentials());
        },
        stop: () => identity.stop(),
      },
      { name: 'models', start: () => this.startInference(), stop: () => this.models?.stop() },
      {
        name: 'intake',
        start: async () => {
          this.startIntake();
          await this.intake?.pool.warm();
        },
        stop: async () => {
          await this.intake?.pool.close();
          this.intake?.spool.close();
        },
      },
      // Its queue store is the constructor's: stopped with the other owned stores (closeOwned).
      { name: 'pacs', start: () => this.pacs?.start(), stop: () => undefined },
      {
        name: 'reid',
        start: () => this.reid && startReid(this.config, this.reid, this.logger),
        stop: () => this.reid?.server?.app.close(),
      },
      { name: 'pipeline', start: () => this.intake?.pipeline.start(), stop: () => this.intake?.pipeline.stop() },
      { name: 'dicom scp', start: () => this.intake?.scp?.start(), stop: () => this.intake?.scp?.stop() },
      { name: 'watched folder', start: () => this.intake?.watcher?.start(), stop: () => this.intake?.watcher?.stop() },
      { name: 'publisher', start: () => this.publisher.start(), stop: () => this.publisher.stop() },
      {
        name: 'telemetry',
        start: async () => {
          this.telemetry.start();
          await this.telemetry.sampleAndEnqueue();
        },
        stop: () => this.telemetry.stop(),
      },
    ];
  }

  /** Starts every part in order; if one fails, what started is stopped again and the error thrown. */
  async start(): Promise<void> {
    try {
      await this.lifecycle.start(this.parts());
    } catch (error) {
      await this.closeOwned();
      throw error;
    }
    this.logger.info({ outbox: this.outbox.stats() }, 'edge agent started');
  }

  /** Where browsers reach the re-identification endpoint (configured, or this listener). */
  reidUrl(): string | undefined {
    const r = this.config.reid;
    if (!this.reid?.server) return undefined;
    if (r.publicUrl) return r.publicUrl;
    const host = r.host === '0.0.0.0' ? '127.0.0.1' : r.host;
    return `${r.tls.enabled ? 'https' : 'http'}://${host}:${this.reid.server.port}`;
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
    try {
      await this.lifecycle.stop();
    } finally {
      await this.closeOwned();
    }
  }

  /** What the constructor opened (its stores), closed once, whether or not the agent started. */
  private async closeOwned(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pacs?.stop();
    await this.reid?.audit.stop();
    await this.reid?.images?.close();
    this.reid?.index.close();
    this.outbox.close();
  }
}
