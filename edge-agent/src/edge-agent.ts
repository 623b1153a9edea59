import { mkdirSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  assertSchema,
  asVigilError,
  createLogger,
  type DeviceAddress,
  decodeMessage,
  encodeMessage,
  type Logger,
  type ModelDesiredMessage,
  ResultMessage,
  topicFor,
  trustedKeys,
} from '@vigil/shared';
import { deidSecret, type EdgeConfig, mqttPassword, trustedKeyPems } from './config.js';
import { DecodePool } from './imaging/decode-pool.js';
import { analyzeImage, buildResult, withOverlay } from './inference/analyze-image.js';
import type { OnnxModel } from './inference/onnx-model.js';
import { renderOverlay } from './inference/overlay.js';
import { inputSpecOf, type ModelInput } from './inference/preprocess.js';
import { DicomScp, dicomTlsMaterial } from './intake/dicom-scp.js';
import { FolderWatcher } from './intake/folder-watcher.js';
import { Spool } from './intake/spool.js';
import { ModelManager } from './models/model-manager.js';
import { Outbox } from './outbox/outbox.js';
import { type ImageHandler, ImagePipeline } from './pipeline/image-pipeline.js';
import { MqttPublisher } from './publish/mqtt-publisher.js';
import { PipelineCounters } from './telemetry/pipeline-counters.js';
import { TelemetrySampler } from './telemetry/telemetry-sampler.js';
import { TrainingInputStore } from './training/input-store.js';
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
  /** De-identified model inputs kept for retraining (config training.keepInputs). */
  private readonly trainingInputs: TrainingInputStore | undefined;
  private readonly customHandler: boolean;
  models: ModelManager | undefined;
  private readonly simulatedProviderDrift: number;

  constructor(
    readonly config: EdgeConfig,
    options: {
      logger?: Logger;
      imageHandler?: ImageHandler;
      /** NAMED MOCK for tests: the self-test output drift of a faulty GPU provider (no GPU here). */
      simulatedProviderDrift?: number;
    } = {},
  ) {
    this.simulatedProviderDrift = options.simulatedProviderDrift ?? 0;
    this.customHandler = options.imageHandler !== undefined;
    this.imageHandler =
      options.imageHandler ??
      (async (image) => {
        this.logger.info({ instanceKey: image.image.instanceKey, decodeMs: Math.round(image.timingsMs.decode) }, 'image decoded');
      });
    this.address = { clinicId: config.clinicId, deviceId: config.deviceId };
    this.logger = options.logger ?? createLogger('vigil-edge').child(this.address);
    mkdirSync(config.dataDir, { recursive: true });
    this.trainingInputs = config.training.keepInputs
      ? new TrainingInputStore(join(config.dataDir, 'training-inputs'), config.training.maxImages)
      : undefined;
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
      receipts: config.mqtt.receipts
        ? { timeoutMs: config.mqtt.receiptTimeoutMs, maxTimeoutMs: config.mqtt.receiptMaxTimeoutMs }
        : undefined,
      statusFields: () => ({
        agentVersion: AGENT_VERSION,
        tags: [...config.tags],
        ...(this.counters.inferenceProvider ? { inferenceProvider: this.counters.inferenceProvider } : {}),
        ...(this.models?.active ? { model: this.models.active.ref } : {}),
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
    if (spool.stalePartialsRemoved > 0) {
      this.logger.warn(
        { removed: spool.stalePartialsRemoved },
        'removed partial files of transfers cut off before the last stop',
      );
    }
    const pool = new DecodePool(config.imaging.decodeThreads || undefined);
    const pipeline = new ImagePipeline({
      spool,
      pool,
      deid: { secret: deidSecret(config), defaultIssuer: config.clinicId },
      counters: this.counters,
      logger: this.logger,
      handler: (image) => this.imageHandler(image),
      inputSpec: () => {
        const active = this.models?.active?.model;
        return active ? inputSpecOf(active.manifest) : undefined;
      },
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
        host: config.dicom.host,
        allowedCallingAeTitles: config.dicom.allowedCallingAeTitles,
        allowAnyCallingAe: config.dicom.allowAnyCallingAe,
        maxObjectBytes: config.dicom.maxObjectBytes,
        minFreeBytes: config.intake.minFreeBytes,
        ...(config.dicom.tls.enabled ? { tls: dicomTlsMaterial(config.dicom.tls) } : {}),
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
        minFreeBytes: config.intake.minFreeBytes,
        onSpooled: received,
        onQuarantined: () => {
          this.counters.quarantined += 1;
        },
      });
    }
  }

  /** The active model (and a shadow candidate, if any) analyse every image; fleet rollouts swap them. */
  get model(): OnnxModel | undefined {
    return this.models?.active?.model;
  }

  private async startInference(): Promise<void> {
    if (this.customHandler) return;
    const keys = trustedKeys(trustedKeyPems(this.config));
    if (!this.config.model.dir && keys.size === 0) return;
    const models = new ModelManager({
      address: this.address,
      dataDir: this.config.dataDir,
      trustedKeys: keys,
      threads: this.config.model.threads,
      username: this.config.mqtt.username || this.config.deviceId,
      password: mqttPassword(this.config),
      logger: this.logger,
      simulatedProviderDrift: this.simulatedProviderDrift,
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
        this.publisher.refreshStatus();
        this.logger.info(
          { model: model.manifest.name, version: model.manifest.version, provider: model.provider },
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
    this.imageHandler = async (image) => {
      const active = models.active;
      if (!active) {
        this.logger.warn({ instanceKey: image.image.instanceKey }, 'no model installed yet: image decoded only');
        return;
      }
      const analysis = await analyzeImage(image.pixels, image.attrs, active.model, image.modelInput);
      const result = buildResult(this.address, image, analysis, active.model);
      await this.keepTrainingInput(result, analysis.input);
      const overlay = await this.keepOverlay(result, analysis);
      if (overlay && this.config.overlay.send) {
        const attached = withOverlay(result, overlay);
        if (attached.omitted) {
          this.logger.warn(
            { code: 'VIGIL_PAYLOAD_OVERSIZED', instanceKey: result.instanceKey, overlayBytes: overlay.byteLength },
            'overlay too large to send: the result goes without it (the PNG is kept at the edge)',
          );
        }
        this.submitResult(attached.result);
      } else {
        this.submitResult(result);
      }
      const shadow = models.shadow;
      if (shadow) {
        // Shadow mode: the candidate sees the same image; its result is flagged and never shown to clinicians.
        const candidate = await analyzeImage(image.pixels, image.attrs, shadow.model, image.modelInput);
        this.submitResult({ ...buildResult(this.address, image, candidate, shadow.model), shadow: true });
      }
    };
  }

  /** Keeps the image's model input for retraining; a failure costs the training input, never the result. */
  private async keepTrainingInput(result: ResultMessage, input: ModelInput): Promise<void> {
    if (!this.trainingInputs) return;
    try {
      await this.trainingInputs.keep(
        {
          instanceKey: result.instanceKey,
          patientKey: result.patientKey,
          width: input.dims[3],
          height: input.dims[2],
          rows: result.image.rows,
          columns: result.image.columns,
          pixelSpacingMm: result.image.pixelSpacingMm,
          scale: input.scale,
          mirrored: input.mirrored,
          model: result.model,
          keptAt: new Date().toISOString(),
        },
        input.tensor,
      );
    } catch (error) {
      this.logger.warn({ instanceKey: result.instanceKey, err: (error as Error).message }, 'could not keep the training input');
    }
  }

  /** Writes the overlay PNG next to the spool (never the patient's identity: the file is named by the pseudonym). */
  private async keepOverlay(
    result: ResultMessage,
    analysis: Awaited<ReturnType<typeof analyzeImage>>,
  ): Promise<Buffer | undefined> {
    if (!this.config.overlay.enabled) return undefined;
    try {
      const png = await renderOverlay(analysis.input, result.findings, result.image);
      const dir = join(this.config.dataDir, 'overlays');
      mkdirSync(dir, { recursive: true });
      await writeFile(join(dir, `${result.instanceKey}.png`), png);
      return png;
    } catch (error) {
      // An overlay is a convenience: the result goes out without it.
      this.logger.warn(
        { code: 'VIGIL_INTERNAL', instanceKey: result.instanceKey, err: (error as Error).message },
        'overlay not written',
      );
      return undefined;
    }
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
    await this.intake?.watcher?.stop();
    this.intake?.scp?.stop();
    await this.intake?.pipeline.stop();
    await this.intake?.pool.close();
    this.intake?.spool.close();
    this.telemetry.stop();
    await this.publisher.stop();
    await this.models?.stop();
    this.outbox.close();
  }
}
