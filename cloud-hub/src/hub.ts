import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, encodeMessage, type Logger, topicFor, trustedKeys, VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import { registerApi } from './api/api-plugin.js';
import { AuthService } from './auth/auth-service.js';
import { DeviceRegistry } from './broker/device-registry.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import { ExternalConsumer } from './broker/external-consumer.js';
import { externalPassword, type HubConfig, modelKeyPems, statePassword } from './config.js';
import { HubEvents } from './events/hub-events.js';
import type { DEFAULT_CATEGORY_POLICY } from './followup/category.js';
import { DEFAULT_FOLLOWUP_POLICY, type FollowupPolicy } from './followup/followup-service.js';
import { FollowupThread } from './followup/followup-thread.js';
import type { HistoryStore } from './history/history-store.js';
import { buildHttpServer } from './http/http-server.js';
import { HubMetrics } from './http/hub-metrics.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { ModelRegistry } from './models/model-registry.js';
import { RolloutController } from './rollout/rollout-controller.js';
import type { StateLocation, StateStore } from './state/state-store.js';
import { InfluxHistoryStore } from './storage/influx/influx-history-store.js';
import { openStateStore as openStateEngine } from './storage/open-state.js';
import { SqliteHistoryStore } from './storage/sqlite/sqlite-history-store.js';

/** How long requests in flight get to finish when the hub stops. */
const HTTP_CLOSE_GRACE_MS = 2000;

const BUNDLED_DASHBOARD = fileURLToPath(new URL('../web/dist', import.meta.url));

export function followupPolicy(config: HubConfig): FollowupPolicy {
  const f = config.followup;
  const category = {
    thresholds: f.categoryThresholds as unknown as typeof DEFAULT_CATEGORY_POLICY.thresholds,
    intervalMonths: f.intervalMonths as unknown as typeof DEFAULT_CATEGORY_POLICY.intervalMonths,
  };
  const d = DEFAULT_FOLLOWUP_POLICY;
  return {
    timeline: {
      ...d.timeline,
      category,
      match: { ...d.timeline.match, positionTolerance: f.positionTolerance },
      minTissueFraction: f.minTissueFraction,
    },
    change: {
      ...d.change,
      category,
      growthMinMm: f.growthMinMm,
      growthMinPercent: f.growthMinPercent,
      newFindingMinScore: f.newFindingMinScore,
      scoreRise: f.scoreRise,
      resolvedMinSightings: f.resolvedMinSightings,
      crossViewTolerance: f.crossViewTolerance,
    },
    overdue: { category, graceDays: f.graceDays },
  };
}

function readTls(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new VigilError('VIGIL_TLS_MATERIAL_MISSING', `config key ${key}: cannot read ${file}: ${(error as Error).message}`);
  }
}

/** The model registry a hub (or the CLI) uses for this config; `publicUrl` is where edges download from. */
export function openModelRegistry(config: HubConfig, state: StateStore, publicUrl: () => string): ModelRegistry {
  return new ModelRegistry(
    state.rollouts,
    config.models.dir || join(config.dataDir, 'models'),
    trustedKeys(modelKeyPems(config)),
    publicUrl,
  );
}

/** Where the configured state store lives. */
export function stateLocation(config: HubConfig): StateLocation {
  const s = config.state;
  if (s.driver === 'sqlite') return { driver: 'sqlite', path: s.sqlitePath || join(config.dataDir, 'state.sqlite') };
  return {
    driver: 'postgres',
    url: withPassword(s.url, statePassword(config)),
    sslmode: s.sslmode,
    caFile: s.caFile,
    poolSize: s.poolSize,
    connectTimeoutMs: s.connectTimeoutMs,
    statementTimeoutMs: s.statementTimeoutMs,
  };
}

function withPassword(url: string, password: string): string {
  if (!password) return url;
  try {
    const u = new URL(url);
    u.password = password;
    return u.toString();
  } catch {
    return url; // the store reports the malformed URL, naming state.url
  }
}

/** The configured state store, not yet opened (the Hub opens it in `start()`). */
function stateEngine(config: HubConfig): StateStore {
  mkdirSync(config.dataDir, { recursive: true });
  return openStateEngine(stateLocation(config));
}

/** The configured state store, connected and migrated (CLI commands, tools). */
export async function openStateStore(config: HubConfig): Promise<StateStore> {
  const state = stateEngine(config);
  try {
    await state.open();
  } catch (error) {
    await state.close().catch(() => undefined);
    throw error;
  }
  return state;
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
  readonly events = new HubEvents();
  readonly auth: AuthService;
  readonly followup: FollowupThread;
  readonly models: ModelRegistry;
  readonly rollouts: RolloutController;
  private revocationTimer: NodeJS.Timeout | undefined;
  httpPort = 0;

  constructor(
    readonly config: HubConfig,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? createLogger('vigil-hub');
    this.state = stateEngine(config);
    this.history =
      config.history.driver === 'influxdb'
        ? new InfluxHistoryStore({
            ...config.history.influx,
            bufferPath: join(config.dataDir, 'influx-buffer.sqlite'),
            logger: this.logger,
          })
        : new SqliteHistoryStore(join(config.dataDir, 'history.sqlite'));
    this.registry = new DeviceRegistry(this.state);
    this.auth = new AuthService(this.state.users, this.state.audit, this.logger, {
      sessionHours: config.auth.sessionHours,
      idleMinutes: config.auth.idleMinutes,
      lockoutThreshold: config.auth.lockoutThreshold,
      lockoutMinutes: config.auth.lockoutMinutes,
      issuer: config.auth.issuer,
    });
    this.followup = new FollowupThread({
      state: stateLocation(config),
      store: this.state.followup,
      logger: this.logger,
      events: this.events,
      policy: followupPolicy(config),
      sweepIntervalMs: config.followup.sweepIntervalS * 1000,
      onRestart: () => this.metrics.followupRestarts.inc(),
    });
    this.models = openModelRegistry(
      config,
      this.state,
      () => config.models.publicUrl || `${config.http.tls.enabled ? 'https' : 'http'}://${config.http.host}:${this.httpPort}`,
    );
    this.rollouts = new RolloutController({
      state: this.state,
      registry: this.models,
      logger: this.logger,
      events: this.events,
      tickMs: config.rollout.tickMs,
      publishDesired: async (message) => {
        const topic = topicFor(message, 'model/desired');
        const payload = encodeMessage(message);
        if (this.broker) await this.broker.publish(topic, payload, true);
        else await this.consumer?.publish(topic, payload, true);
      },
    });
    this.ingest = new IngestPipeline({
      onCommitted: (batch) => {
        const patients = new Set<string>();
        const clinics = new Set<string>();
        for (const r of batch.results) {
          clinics.add(r.clinicId);
          if (!r.shadow) patients.add(r.patientKey);
        }
        if (patients.size > 0) this.followup.notePatients(patients);
        if (batch.results.length > 0) this.events.emit({ type: 'results', count: batch.results.length, clinicIds: [...clinics] });
        for (const s of batch.statuses)
          this.events.emit({ type: 'device', deviceId: s.deviceId, clinicId: s.clinicId, status: s.state });
      },
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
      beforeScrape: () => {
        this.metrics.historyPending.set(this.history.pendingPoints());
        this.metrics.followupPending.set(this.followup.pendingPatients());
      },
      trustProxy: config.http.trustProxy,
      ...(config.http.tls.enabled
        ? {
            https: {
              key: readTls(config.http.tls.keyFile, 'http.tls.keyFile'),
              cert: readTls(config.http.tls.certFile, 'http.tls.certFile'),
            },
          }
        : {}),
    });
  }

  async start(): Promise<void> {
    await this.state.open();
    if (this.history instanceof InfluxHistoryStore) await this.history.start();
    await this.broker?.start();
    await this.consumer?.start();
    await registerApi(this.http, {
      state: this.state,
      history: this.history,
      auth: this.auth,
      followup: this.followup,
      events: this.events,
      logger: this.logger,
      registry: this.models,
      rollouts: this.rollouts,
      devices: this.registry,
      tls: this.config.http.tls.enabled,
      rateLimitPerMinute: this.config.http.rateLimitPerMinute,
      loginRateLimitPerMinute: this.config.auth.loginRateLimitPerMinute,
      dashboardDir: this.config.dashboard.dir || BUNDLED_DASHBOARD,
    });
    this.followup.start();
    await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
    const address = this.http.server.address();
    this.httpPort = typeof address === 'object' && address ? address.port : this.config.http.port;
    await this.rollouts.start();
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

  /**
   * Stops accepting requests and lets those in flight finish for a short grace period, then drops
   * the connections still open. Without the bound, one client that opened a connection and sent
   * half a request held shutdown (and a restart) for Node's request timeout, five minutes.
   */
  private async closeHttp(): Promise<void> {
    const server = this.http.server;
    const timer = setTimeout(() => {
      server.getConnections((_error, open) =>
        this.logger.warn({ openConnections: open, graceMs: HTTP_CLOSE_GRACE_MS }, 'closing HTTP connections still open'),
      );
      server.closeAllConnections();
    }, HTTP_CLOSE_GRACE_MS);
    try {
      await this.http.close();
    } finally {
      clearTimeout(timer);
    }
  }

  get mqttPorts(): { plain?: number; tls?: number } {
    return this.broker?.ports ?? {};
  }

  async stop(): Promise<void> {
    if (this.revocationTimer) clearInterval(this.revocationTimer);
    await this.rollouts.stop();
    await this.closeHttp();
    await this.consumer?.stop();
    await this.broker?.stop();
    await this.ingest.close();
    await this.followup.stop();
    await this.history.close();
    await this.state.close();
  }
}
