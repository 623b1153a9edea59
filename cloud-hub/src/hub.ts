import { randomBytes, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger, encodeMessage, Lifecycle, type Logger, type Part, topicFor, trustedKeys } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import { registerApi } from './api/api-plugin.js';
import type { AuthService } from './auth/auth-service.js';
import { reidSigningKey } from './auth/reid-keys.js';
import { DeviceRegistry } from './broker/device-registry.js';
import type { DeviceTransport } from './broker/device-transport.js';
import type { SingletonLease } from './cluster/singleton-lease.js';
import { type HubConfig, modelKeyPems, pkiDir } from './config.js';
import { HubEvents } from './events/hub-events.js';
import { followupPolicy } from './followup/followup-policy.js';
import { FollowupThread } from './followup/followup-thread.js';
import type { HistoryStore } from './history/history-store.js';
import { HubMetrics } from './http/hub-metrics.js';
import { authServiceFor, httpServerFor, singletonLeaseFor, transportFor } from './hub-wiring.js';
import { IngestPipeline } from './ingest/ingest-pipeline.js';
import { postCommitFanOut } from './ingest/post-commit.js';
import { ModelRegistry } from './models/model-registry.js';
import { AcceleratorWatch } from './ops/accelerator-watch.js';
import { CrossClinicWatch } from './ops/cross-clinic-watch.js';
import { PerformanceWatch } from './ops/performance-watch.js';
import { caFiles, DeviceCa } from './pki/device-ca.js';
import { EnrolmentService } from './pki/enrolment-service.js';
import { RolloutController } from './rollout/rollout-controller.js';
import type { StateLocation, StateStore } from './state/state-store.js';
import { configuredHistoryStore, configuredStateStore, stateLocation } from './storage/configured-stores.js';
import { openEventRelay } from './storage/open-state.js';

/** How long requests in flight get to finish when the hub stops. */
const HTTP_CLOSE_GRACE_MS = 2000;

const BUNDLED_DASHBOARD = fileURLToPath(new URL('../web/dist', import.meta.url));

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
/** The hub process: stores, ingest, broker (embedded or external) and the HTTP server. */
export class Hub {
  readonly logger: Logger;
  readonly metrics = new HubMetrics();
  readonly state: StateStore;
  readonly history: HistoryStore;
  readonly registry: DeviceRegistry;
  readonly ingest: IngestPipeline;
  /** Devices' way in: the embedded broker or a client of an external one. */
  readonly transport: DeviceTransport;
  readonly http: FastifyInstance;
  readonly events = new HubEvents();
  readonly auth: AuthService;
  readonly followup: FollowupThread;
  readonly models: ModelRegistry;
  readonly rollouts: RolloutController;
  readonly performanceWatch: PerformanceWatch;
  readonly crossClinicWatch: CrossClinicWatch;
  readonly acceleratorWatch: AcceleratorWatch;
  /** Singleton work across replicas: who ticks rollouts, who sweeps for overdue follow-ups. */
  readonly rolloutLease: SingletonLease;
  readonly sweepLease: SingletonLease;
  readonly replicaId: string;
  private revocations: ReturnType<DeviceRegistry['watchRevocations']> | undefined;
  /** The device CA's certificate when `vigil-hub ca init` has run: it authenticates device certificates. */
  private readonly deviceCaPem: string | undefined;
  /** Enrolment and certificate renewal; set at start (the CA key loads asynchronously). */
  enrolment: EnrolmentService | undefined;
  httpPort = 0;
  /** Where the state lives (resolved once: the password may come from a file). */
  private readonly location: StateLocation;

  constructor(
    readonly config: HubConfig,
    options: { logger?: Logger } = {},
  ) {
    this.logger = options.logger ?? createLogger('vigil-hub');
    this.deviceCaPem = DeviceCa.exists(pkiDir(config)) ? readFileSync(caFiles(pkiDir(config)).cert, 'utf8') : undefined;
    this.location = stateLocation(config);
    this.state = configuredStateStore(config, this.location);
    this.history = configuredHistoryStore(config, this.logger);
    this.registry = new DeviceRegistry(this.state);
    if (this.deviceCaPem) this.registry.deviceCa = new X509Certificate(this.deviceCaPem);
    this.replicaId = config.cluster.replicaId || `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
    const lease = (name: string, onChange?: (leader: boolean) => void) =>
      singletonLeaseFor(config, { store: this.state.leases, holder: this.replicaId, logger: this.logger, name, onChange });
    this.rolloutLease = lease('rollouts');
    this.sweepLease = lease('followup-sweeps', (leader) => this.followup.setSweeps(leader));
    this.auth = authServiceFor(config, this.state, this.logger);
    this.followup = new FollowupThread({
      state: this.location,
      store: this.state.followup,
      logger: this.logger,
      events: this.events,
      policy: followupPolicy(config.followup),
      sweepIntervalMs: config.followup.sweepIntervalS * 1000,
      sweeps: false,
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
      lease: this.rolloutLease,
      replicaId: this.replicaId,
      publishDesired: (message) => this.transport.publish(topicFor(message, 'model/desired'), encodeMessage(message), true),
    });
    this.performanceWatch = new PerformanceWatch({
      verdicts: this.state.verdicts,
      alerts: this.state.opsAlerts,
      events: this.events,
      logger: this.logger,
      intervalMs: config.performance.checkIntervalS * 1000,
      minSamples: config.performance.minSamples,
      leader: () => this.sweepLease.leader,
    });
    this.crossClinicWatch = new CrossClinicWatch({ events: this.events, alerts: this.state.opsAlerts, logger: this.logger });
    this.acceleratorWatch = new AcceleratorWatch({
      devices: this.state,
      alerts: this.state.opsAlerts,
      events: this.events,
      logger: this.logger,
      intervalMs: config.performance.checkIntervalS * 1000,
      leader: () => this.sweepLease.leader,
    });
    this.ingest = new IngestPipeline({
      onCommitted: postCommitFanOut({
        confirm: (results, rejected) => this.transport.confirm(results, rejected),
        notePatients: (patients) => this.followup.notePatients(patients),
        events: this.events,
      }),
      state: this.state,
      history: this.history,
      logger: this.logger,
      metrics: this.metrics,
      maxPayloadBytes: config.mqtt.maxPayloadBytes,
      ...config.ingest,
    });
    this.transport = transportFor(config, {
      deviceCaPem: this.deviceCaPem,
      registry: this.registry,
      ingest: this.ingest,
      logger: this.logger,
      metrics: this.metrics,
    });
    this.http = httpServerFor(config, {
      metrics: this.metrics,
      deviceCaPem: this.deviceCaPem,
      readiness: [
        { name: 'state', check: () => this.state.ping().then(() => true) },
        { name: 'history', check: () => this.history.ping() },
        { name: 'mqtt', check: async () => this.transport.ready() },
      ],
      beforeScrape: () => {
        this.metrics.historyPending.set(this.history.pendingPoints());
        this.metrics.followupPending.set(this.followup.pendingPatients());
      },
    });
  }

  /**
   * The hub's parts in start order; they stop in reverse (no new HTTP requests or device messages
   * first, then ingest and follow-up finish what they hold, then the stores close).
   */
  private parts(): Part[] {
    return [
      { name: 'state', start: () => this.state.open(), stop: () => this.state.close() },
      { name: 'history', start: () => this.history.start(), stop: () => this.history.close() },
      { name: 'events', start: () => this.relayEvents(), stop: () => this.events.detach() },
      { name: 'sweep lease', start: () => this.sweepLease.start(), stop: () => this.sweepLease.stop() },
      { name: 'followup', start: () => this.followup.start(), stop: () => this.followup.stop() },
      { name: 'ingest', start: () => undefined, stop: () => this.ingest.close() },
      { name: 'devices', start: () => this.transport.start(), stop: () => this.transport.stop() },
      { name: 'http', start: () => this.startHttp(), stop: () => this.closeHttp() },
      { name: 'rollout lease', start: () => this.rolloutLease.start(), stop: () => this.rolloutLease.stop() },
      { name: 'rollouts', start: () => this.rollouts.start(), stop: () => this.rollouts.stop() },
      { name: 'performance watch', start: () => this.performanceWatch.start(), stop: () => this.performanceWatch.stop() },
      { name: 'cross-clinic watch', start: () => this.crossClinicWatch.start(), stop: () => this.crossClinicWatch.stop() },
      { name: 'accelerator watch', start: () => this.acceleratorWatch.start(), stop: () => this.acceleratorWatch.stop() },
      {
        name: 'revocations',
        start: () => {
          this.revocations = this.registry.watchRevocations({
            intervalMs: this.config.pki.revocationCheckS * 1000,
            disconnect: (deviceId) => this.transport.disconnect(deviceId),
            logger: this.logger,
            onFailure: () => this.metrics.revocationCheckFailures.inc(),
          });
        },
        stop: () => this.revocations?.stop(),
      },
    ];
  }

  /** Every started part is stopped, in reverse; a failed stop is logged and the rest still stop. */
  private readonly lifecycle = new Lifecycle((part, error) =>
    this.logger.error({ code: 'VIGIL_INTERNAL', part, err: error.message }, 'stopping a part failed'),
  );

  async start(): Promise<void> {
    await this.lifecycle.start(this.parts());
    this.logger.info(
      {
        http: this.httpPort,
        mqtt: this.transport.kind === 'embedded' ? this.transport.ports : this.config.mqtt.external.url,
        history: this.history.driver,
      },
      'hub started',
    );
  }

  /** With replicas (PostgreSQL state), live events reach the dashboards of every replica. */
  private async relayEvents(): Promise<void> {
    const onError = (error: Error) =>
      this.logger.warn({ code: 'VIGIL_STATE_STORE_UNAVAILABLE', err: error.message }, 'event relay between replicas failed');
    const relay = openEventRelay(this.location, this.replicaId, onError);
    if (relay) await this.events.attach(relay, onError);
  }

  private async startHttp(): Promise<void> {
    this.enrolment = new EnrolmentService({
      store: this.state.pki,
      registry: this.registry,
      audit: this.state.audit,
      ca: this.deviceCaPem ? await DeviceCa.load(pkiDir(this.config)) : undefined,
      certValidityS: this.config.pki.certValidityS,
      tokenTtlS: this.config.pki.enrolTokenTtlS,
    });
    await registerApi(this.http, {
      pki: { enrolment: this.enrolment, enrolRateLimitPerMinute: this.config.pki.enrolRateLimitPerMinute },
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
      reid: {
        signingKeyPem: reidSigningKey(this.config.dataDir, this.config.reid.signingKeyFile).privateKeyPem,
        tokenTtlS: this.config.reid.tokenTtlS,
        edgeOrigins: this.config.reid.edgeOrigins,
      },
    });
    await this.http.listen({ host: this.config.http.host, port: this.config.http.port });
    const address = this.http.server.address();
    this.httpPort = typeof address === 'object' && address ? address.port : this.config.http.port;
  }

  /** Revocation made by another process (the CLI) reaches live connections within seconds. */
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
    return this.transport.ports;
  }

  async stop(): Promise<void> {
    await this.lifecycle.stop();
  }
}
