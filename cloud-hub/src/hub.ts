import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createLogger, type Logger } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import { DeviceRegistry } from './broker/device-registry.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import { ExternalConsumer } from './broker/external-consumer.js';
import { externalPassword, type HubConfig } from './config.js';
import type { HistoryStore } from './history/history-store.js';
import { InfluxHistoryStore } from './history/influx-history-store.js';
import { SqliteHistoryStore } from './history/sqlite-history-store.js';
import { buildHttpServer } from './http/http-server.js';
import { HubMetrics } from './http/hub-metrics.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { SqliteStateStore } from './state/sqlite-state-store.js';
import type { StateStore } from './state/state-store.js';

export function openStateStore(config: HubConfig): StateStore {
  mkdirSync(config.dataDir, { recursive: true });
  return new SqliteStateStore(config.state.sqlitePath || join(config.dataDir, 'state.sqlite'));
}

/** The hub process: stores, ingest, broker (embedded or external) and the HTTP server. */
export class Hub {
  readonly logger: Logger;
  readonly metrics = new HubMetrics();
  readonly state: StateStore;
  readonly history: HistoryStore;
  readonly registry: DeviceRegistry;
  readonly ingest: IngestPipeline;
  readonly broker: EmbeddedBroker | undefined;
  readonly consumer: ExternalConsumer | undefined;
  readonly http: FastifyInstance;
  private revocationTimer: NodeJS.Timeout | undefined;
  httpPort = 0;

  constructor(
    readonly config: HubConfig,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? createLogger('vigil-hub');
    this.state = openStateStore(config);
    this.history =
      config.history.driver === 'influxdb'
        ? new InfluxHistoryStore({
            ...config.history.influx,
            bufferPath: join(config.dataDir, 'influx-buffer.sqlite'),
            logger: this.logger,
          })
        : new SqliteHistoryStore(join(config.dataDir, 'history.sqlite'));
    this.registry = new DeviceRegistry(this.state);
    this.ingest = new IngestPipeline({
      state: this.state,
      history: this.history,
      logger: this.logger,
      metrics: this.metrics,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      ...config.ingest,
    });
    const m = config.mqtt;
    if (m.mode === 'embedded') {
      this.broker = new EmbeddedBroker({
        plain: m.listen.enabled ? { host: m.listen.host, port: m.listen.port } : undefined,
        tls: m.tls.enabled
          ? {
              host: m.tls.host,
              port: m.tls.port,
              keyFile: m.tls.keyFile,
              certFile: m.tls.certFile,
              caFile: m.tls.caFile || undefined,
              requireClientCert: m.tls.requireClientCert,
            }
          : undefined,
        registry: this.registry,
        ingest: this.ingest,
        logger: this.logger,
        metrics: this.metrics,
      });
    } else {
      this.consumer = new ExternalConsumer({
        ...m.external,
        password: externalPassword(config),
        caFile: m.external.caFile || undefined,
        ingest: this.ingest,
        logger: this.logger,
      });
    }
    this.http = buildHttpServer({
      metrics: this.metrics,
      readiness: [
        { name: 'state', check: () => this.state.ping().then(() => true) },
        { name: 'history', check: () => this.history.ping() },
        {
          name: 'mqtt',
          check: async () =>
            this.broker
              ? this.broker.ports.plain !== undefined || this.broker.ports.tls !== undefined
              : this.consumer?.connected === true,
        },
      ],
      beforeScrape: () => this.metrics.historyPending.set(this.history.pendingPoints()),
    });
  }

  async start(): Promise<void> {
    if (this.history instanceof InfluxHistoryStore) await this.history.start();
    await this.broker?.start();
    await this.consumer?.start();
    await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
    const address = this.http.server.address();
    this.httpPort = typeof address === 'object' && address ? address.port : this.config.http.port;
    this.revocationTimer = setInterval(() => void this.kickRevoked(), 10_000);
    this.revocationTimer.unref();
    this.logger.info(
      { http: this.httpPort, mqtt: this.broker?.ports ?? this.config.mqtt.external.url, history: this.history.driver },
      'hub started',
    );
  }

  /** Revocation made by another process (the CLI) reaches live connections within seconds. */
  private async kickRevoked(): Promise<void> {
    if (!this.broker) return;
    for (const device of await this.state.listDevices().catch(() => [])) {
      if (device.revokedAt) this.broker.disconnect(device.deviceId);
    }
  }

  get mqttPorts(): { plain?: number; tls?: number } {
    return this.broker?.ports ?? {};
  }

  async stop(): Promise<void> {
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    await this.http.close();
    await this.consumer?.stop();
    await this.broker?.stop();
    await this.ingest.close();
    await this.history.close();
    await this.state.close();
  }
}
