// The hub's device transport and HTTP server built from its config (composition only: each part
// owns its behaviour; Hub holds the parts and runs their lifecycle).
import { readFileSync } from 'node:fs';
import { type Logger, VigilError } from '@vigil/shared';
import { AuthService } from './auth/auth-service.js';
import type { DeviceRegistry } from './broker/device-registry.js';
import type { DeviceTransport } from './broker/device-transport.js';
import { EmbeddedBroker } from './broker/embedded-broker.js';
import { ExternalConsumer } from './broker/external-consumer.js';
import type { LeaseStore } from './cluster/lease-store.js';
import { SingletonLease } from './cluster/singleton-lease.js';
import { externalPassword, type HubConfig } from './config.js';
import { buildHttpServer } from './http/http-server.js';
import type { HubMetrics } from './http/hub-metrics.js';
import type { IngestPipeline } from './ingest/ingest-pipeline.js';
import type { StateStore } from './state/state-store.js';

function readTls(file: string, key: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new VigilError('VIGIL_TLS_MATERIAL_MISSING', `config key ${key}: cannot read ${file}: ${(error as Error).message}`);
  }
}

/** The embedded MQTT broker (plain and TLS listeners) or the consumer of an external broker. */
export function transportFor(
  config: HubConfig,
  o: { deviceCaPem: string | undefined; registry: DeviceRegistry; ingest: IngestPipeline; logger: Logger; metrics: HubMetrics },
): DeviceTransport {
  const m = config.mqtt;
  return m.mode === 'embedded'
    ? new EmbeddedBroker({
        plain: m.listen.enabled ? { host: m.listen.host, port: m.listen.port } : undefined,
        tls: m.tls.enabled
          ? {
              host: m.tls.host,
              port: m.tls.port,
              keyFile: m.tls.keyFile,
              certFile: m.tls.certFile,
              caFile: m.tls.caFile || undefined,
              deviceCaPem: o.deviceCaPem,
              requireClientCert: m.tls.requireClientCert,
            }
          : undefined,
        registry: o.registry,
        ingest: o.ingest,
        logger: o.logger,
        metrics: o.metrics,
      })
    : new ExternalConsumer({
        ...m.external,
        password: externalPassword(config),
        caFile: m.external.caFile || undefined,
        ingest: o.ingest,
        logger: o.logger,
      });
}

/** The HTTP(S) server: readiness checks, metrics, and TLS that accepts (never requires) device certificates. */
export function httpServerFor(
  config: HubConfig,
  o: {
    metrics: HubMetrics;
    deviceCaPem: string | undefined;
    readiness: Parameters<typeof buildHttpServer>[0]['readiness'];
    beforeScrape: () => void;
  },
): ReturnType<typeof buildHttpServer> {
  return buildHttpServer({
    metrics: o.metrics,
    readiness: o.readiness,
    beforeScrape: o.beforeScrape,
    trustProxy: config.http.trustProxy,
    ...(config.http.tls.enabled
      ? {
          https: {
            key: readTls(config.http.tls.keyFile, 'http.tls.keyFile'),
            cert: readTls(config.http.tls.certFile, 'http.tls.certFile'),
            // Devices may present the certificate the hub issued them (renewal, package downloads,
            // labels); browsers present none and are not refused for it.
            ...(o.deviceCaPem ? { ca: [o.deviceCaPem], requestCert: true, rejectUnauthorized: false } : {}),
          },
        }
      : {}),
  });
}

/** Sign-in, sessions and lockouts with the config's policy (lockout counters shared by replicas). */
export function authServiceFor(config: HubConfig, state: StateStore, logger: Logger): AuthService {
  const a = config.auth;
  return new AuthService(
    state.users,
    state.audit,
    logger,
    {
      sessionHours: a.sessionHours,
      idleMinutes: a.idleMinutes,
      lockoutThreshold: a.lockoutThreshold,
      lockoutMinutes: a.lockoutMinutes,
      issuer: a.issuer,
    },
    state.counters,
  );
}

/** A lease on singleton work across replicas (rollouts, follow-up sweeps), held by this replica when it can. */
export function singletonLeaseFor(
  config: HubConfig,
  o: { store: LeaseStore; holder: string; logger: Logger; name: string; onChange?: ((leader: boolean) => void) | undefined },
): SingletonLease {
  return new SingletonLease({
    store: o.store,
    name: o.name,
    holder: o.holder,
    ttlMs: config.cluster.leaseTtlMs,
    logger: o.logger,
    ...(o.onChange ? { onChange: o.onChange } : {}),
  });
}
