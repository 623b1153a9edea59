// The edge agent's parts built from its config: the MQTT publisher, the PACS service, the clinic
// endpoint's stores and listener, and the result sinks in their order. Composition only: each part
// owns its behaviour; EdgeAgent holds them and runs their lifecycle.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { DeviceAddress, Logger } from '@vigil/shared';
import { VigilError } from '@vigil/shared';
import type { AtRest } from './at-rest/at-rest-cipher.js';
import { type EdgeConfig, mqttPassword } from './config.js';
import type { DeviceCredentials } from './identity/device-credentials.js';
import type { Outbox } from './outbox/outbox.js';
import type { ResultSink } from './pipeline/image-processor.js';
import { MqttPublisher, type PublisherOptions } from './publish/mqtt-publisher.js';
import { defaultReidKeyFile, fileKeyProvider, IdentityIndex } from './reid/identity-index.js';
import { IdentityIndexSink } from './reid/identity-sink.js';
import { ReidAuditLog } from './reid/reid-audit.js';
import { startReidServer } from './reid/reid-server.js';
import { derivedUid } from './reporting/measurement-report.js';
import { PacsService } from './reporting/pacs-service.js';
import { TrainingInputStore } from './training/input-store.js';
import { TrainingInputSink } from './training/training-sink.js';
import { AGENT_VERSION } from './version.js';
import { ClinicImageSink } from './viewing/image-sink.js';
import { ClinicImageStore } from './viewing/image-store.js';

/** The clinic endpoint's parts (config reid.enabled): names for pseudonyms and, with viewing, images. */
export interface EdgeReid {
  index: IdentityIndex;
  audit: ReidAuditLog;
  /** The images clinicians' viewers are served (config viewing.enabled). */
  images: ClinicImageStore | undefined;
  server?: Awaited<ReturnType<typeof startReidServer>>;
}

/** The device's MQTT connection, authenticated by its certificate once enrolled (else its password). */
export function publisherFor(
  config: EdgeConfig,
  o: {
    address: DeviceAddress;
    credentials: DeviceCredentials;
    outbox: Outbox;
    logger: Logger;
    statusFields: PublisherOptions['statusFields'];
  },
): MqttPublisher {
  const cert = o.credentials.usesCertificate ? o.credentials.identity.files : undefined;
  return new MqttPublisher({
    address: o.address,
    url: config.mqtt.url,
    username: config.mqtt.username || config.deviceId,
    // With a certificate the broker takes the device from it; an empty password says so.
    password: cert ? '' : mqttPassword(config),
    caFile: config.identity.hubCaFile || config.mqtt.caFile || undefined,
    certFile: cert ? cert.cert : config.mqtt.certFile || undefined,
    keyFile: cert ? cert.key : config.mqtt.keyFile || undefined,
    protocolVersion: config.mqtt.protocolVersion,
    keepaliveS: config.mqtt.keepaliveS,
    inflightWindow: config.mqtt.inflightWindow,
    reconnect: { minMs: config.mqtt.reconnectMinMs, maxMs: config.mqtt.reconnectMaxMs },
    outbox: o.outbox,
    logger: o.logger,
    receipts: config.mqtt.receipts
      ? { timeoutMs: config.mqtt.receiptTimeoutMs, maxTimeoutMs: config.mqtt.receiptMaxTimeoutMs }
      : undefined,
    statusFields: o.statusFields,
  });
}

/** Results back to the clinic's PACS (config pacs.enabled with at least one destination). */
export function pacsFor(config: EdgeConfig, logger: Logger, atRest: AtRest): PacsService | undefined {
  if (!config.pacs.enabled || config.pacs.destinations.length === 0) return undefined;
  return new PacsService({
    dataDir: config.dataDir,
    config: config.pacs,
    device: {
      uid: derivedUid('vigil-device', config.clinicId, config.deviceId),
      name: config.deviceId,
      manufacturer: 'Vigil',
      modelName: 'vigil-edge',
      serialNumber: config.deviceId,
      softwareVersion: AGENT_VERSION,
    },
    logger,
    atRest,
  });
}

/** The clinic endpoint's stores (opened here; its listener starts with startReid). */
export function reidFor(
  config: EdgeConfig,
  o: { logger: Logger; credentials: DeviceCredentials; atRest: AtRest },
): EdgeReid | undefined {
  const r = config.reid;
  if (!r.enabled) return undefined;
  return {
    index: new IdentityIndex(
      join(config.dataDir, 'reid.sqlite'),
      fileKeyProvider(
        r.keyFile || defaultReidKeyFile(config.dataDir, (m) => o.logger.warn({ code: 'VIGIL_CONFIG_INVALID' }, m)),
        r.createKey,
      ),
    ),
    audit: new ReidAuditLog(join(config.dataDir, 'reid-audit.sqlite'), {
      hubUrl: config.hubUrl,
      http: o.credentials.http,
      logger: o.logger,
    }),
    images: config.viewing.enabled
      ? new ClinicImageStore(config.dataDir, {
          atRest: o.atRest,
          retention: {
            maxAgeDays: config.viewing.maxAgeDays,
            keepStudies: config.viewing.keepStudies,
            maxBytes: config.viewing.maxGb * 1024 ** 3,
          },
        })
      : undefined,
  };
}

/** The clinic endpoint's listener (names, DICOMweb), its audit upload and the images' retention sweep. */
export async function startReid(config: EdgeConfig, reid: EdgeReid, logger: Logger): Promise<void> {
  const r = config.reid;
  if (!r.hubPublicKeyFile) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      "reid.hubPublicKeyFile: the hub's token key is needed to check clinicians' tokens",
    );
  }
  if (r.tls.enabled && (!r.tls.certFile || !r.tls.keyFile)) {
    throw new VigilError(
      'VIGIL_CONFIG_INVALID',
      'reid.tls.certFile and reid.tls.keyFile are needed (or reid.tls.enabled: false on loopback)',
    );
  }
  reid.server = await startReidServer({
    clinicId: config.clinicId,
    deviceId: config.deviceId,
    host: r.host,
    port: r.port,
    ...(r.tls.enabled ? { tls: { certFile: r.tls.certFile, keyFile: r.tls.keyFile } } : {}),
    allowedOrigins: r.allowedOrigins,
    hubPublicKeyPem: readFileSync(r.hubPublicKeyFile, 'utf8'),
    index: reid.index,
    audit: reid.audit,
    ...(reid.images ? { images: { store: reid.images, requestsPerMinute: config.viewing.requestsPerMinute } } : {}),
    logger,
  });
  reid.audit.start();
  reid.images?.startSweeping(config.viewing.sweepIntervalS * 1000, logger);
}

/**
 * Where each analysed image goes, in order: the PACS queue, the identity index, the viewer's image
 * store, the training inputs, then the outbox (the result to the hub) and the caller's own sinks.
 */
export function resultSinksFor(
  config: EdgeConfig,
  o: { pacs: PacsService | undefined; reid: EdgeReid | undefined; logger: Logger; outbox: ResultSink; extra: ResultSink[] },
): ResultSink[] {
  const sinks: ResultSink[] = [];
  if (o.pacs) sinks.push(o.pacs);
  if (o.reid) sinks.push(new IdentityIndexSink(o.reid.index));
  if (o.reid?.images) sinks.push(new ClinicImageSink(o.reid.images, o.logger));
  if (config.training.keepInputs) {
    sinks.push(
      new TrainingInputSink(new TrainingInputStore(join(config.dataDir, 'training-inputs'), config.training.maxImages), o.logger),
    );
  }
  sinks.push(o.outbox, ...o.extra);
  return sinks;
}
