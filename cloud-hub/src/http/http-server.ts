import Fastify, { type FastifyInstance } from 'fastify';
import type { HubMetrics } from './hub-metrics.js';

export interface ReadinessCheck {
  name: string;
  check: () => Promise<boolean>;
}

export interface HttpServerOptions {
  metrics: HubMetrics;
  readiness: ReadinessCheck[];
  /** Extra gauges refreshed right before each scrape. */
  beforeScrape?: () => void;
  /** Serve HTTPS with this key and certificate (PEM). */
  https?: { key: Buffer; cert: Buffer; ca?: string[]; requestCert?: boolean; rejectUnauthorized?: boolean };
  trustProxy?: boolean;
}

/** Liveness, readiness and Prometheus metrics; the API and dashboard plug into the same instance. */
export function buildHttpServer(options: HttpServerOptions): FastifyInstance {
  const app = (
    options.https
      ? Fastify({ logger: false, https: options.https, trustProxy: options.trustProxy ?? false })
      : Fastify({ logger: false, trustProxy: options.trustProxy ?? false })
  ) as FastifyInstance;

  const open = { config: { public: true } };
  app.get('/healthz', open, async () => ({ status: 'ok' }));

  app.get('/readyz', open, async (_request, reply) => {
    const checks: Record<string, boolean> = {};
    await Promise.all(
      options.readiness.map(async (c) => {
        checks[c.name] = await c.check().catch(() => false);
      }),
    );
    const ready = Object.values(checks).every(Boolean);
    return reply.code(ready ? 200 : 503).send({ status: ready ? 'ready' : 'not-ready', checks });
  });

  app.get('/metrics', open, async (_request, reply) => {
    options.beforeScrape?.();
    return reply.type(options.metrics.registry.contentType).send(await options.metrics.registry.metrics());
  });

  return app;
}
