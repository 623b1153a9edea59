import { existsSync } from 'node:fs';
import { join } from 'node:path';
import cookie from '@fastify/cookie';
import helmet from '@fastify/helmet';
import rateLimit from '@fastify/rate-limit';
import fastifyStatic from '@fastify/static';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import { isVigilError, type Logger } from '@vigil/shared';
import type { FastifyError, FastifyInstance } from 'fastify';
import type { AuthService } from '../auth/auth-service.js';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { HubEvents } from '../events/hub-events.js';
import type { FollowupRunner } from '../followup/followup-service.js';
import type { HistoryStore } from '../history/history-store.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { EnrolmentService } from '../pki/enrolment-service.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import type { StateStore } from '../state/state-store.js';
import { VerdictService } from '../verdicts/verdict-service.js';
import { HUB_VERSION } from '../version.js';
import { adminRoutes } from './admin-routes.js';
import { alertRoutes } from './alert-routes.js';
import { ErrorBody } from './api-schemas.js';
import { authRoutes } from './auth-routes.js';
import { counterRateLimitStore } from './counter-rate-limit.js';
import { deviceRoutes } from './device-routes.js';
import { eventRoutes } from './event-routes.js';
import { modelRoutes } from './model-routes.js';
import { PatientAccess } from './patient-access.js';
import { patientRoutes } from './patient-routes.js';
import { registerPkiRoutes } from './pki-routes.js';
import { reidRoutes } from './reid-routes.js';
import { installPrincipal, installRequestAuth, SESSION_COOKIE } from './request-auth.js';
import { resultRoutes } from './result-routes.js';
import { verdictRoutes } from './verdict-routes.js';

export interface ApiOptions {
  state: StateStore;
  history: HistoryStore;
  auth: AuthService;
  followup: FollowupRunner;
  events: HubEvents;
  logger: Logger;
  registry: ModelRegistry;
  rollouts: RolloutController;
  devices: DeviceRegistry;
  /** Cookies get `Secure` (and responses HSTS) when the hub serves HTTPS. */
  tls: boolean;
  rateLimitPerMinute: number;
  loginRateLimitPerMinute: number;
  /** Built dashboard (Vite output); served at / when it exists. */
  dashboardDir: string;
  /** Device enrolment and certificate renewal (the device CA). */
  pki: { enrolment: EnrolmentService; enrolRateLimitPerMinute: number };
  /** Signs clinicians' re-identification tokens (names are resolved at the clinic's edges). */
  reid: { signingKeyPem: string; tokenTtlS: number; edgeOrigins: readonly string[] };
  today?: () => string;
}

function errorBody(code: string, message: string) {
  return { error: { code, message } };
}

/** The /api/v1 API, its OpenAPI document at /docs, security headers, rate limits and the dashboard. */
export async function registerApi(app: FastifyInstance, o: ApiOptions): Promise<void> {
  const today = o.today ?? (() => new Date().toISOString().slice(0, 10));
  app.addSchema(ErrorBody);
  await app.register(cookie);
  await app.register(helmet, {
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        // Cornerstone's tool cursors are blob: SVGs.
        imgSrc: ["'self'", 'data:', 'blob:'],
        // uPlot and the QR code set element styles; no inline scripts anywhere.
        styleSrc: ["'self'", "'unsafe-inline'"],
        scriptSrc: ["'self'"],
        // The clinics' edges answer the browser's re-identification requests directly.
        connectSrc: ["'self'", ...o.reid.edgeOrigins],
        upgradeInsecureRequests: o.tls ? [] : null,
      },
    },
    hsts: o.tls ? { maxAge: 31_536_000 } : false,
  });
  installPrincipal(app, o.auth);
  await app.register(rateLimit, {
    global: true,
    max: o.rateLimitPerMinute,
    timeWindow: '1 minute',
    // Counted where every replica sees it (the process's counters with SQLite, the database's with
    // PostgreSQL). Should the counters be unreachable, the request goes on to its route, which
    // answers with its own coded error if it needs the store: a database outage must not turn every
    // request, /readyz included, into a rate-limit failure.
    store: counterRateLimitStore(o.state.counters),
    skipOnError: true,
    // Signed-in users get their own bucket (a clinic behind one NAT is many people); everyone else is
    // counted by address. Never by a cookie value: a made-up cookie must not buy a fresh bucket.
    keyGenerator: (request) => (request.principal ? `user:${request.principal.username}` : `ip:${request.ip}`),
    errorResponseBuilder: (_request, context) => ({
      statusCode: 429,
      code: 'VIGIL_API_RATE_LIMITED',
      message: `rate limit of ${context.max} requests per ${context.after} exceeded`,
    }),
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Vigil hub API',
        version: HUB_VERSION,
        description:
          "Fleet, results, follow-up, verdicts, device identity and audit of the Vigil hub. The public contract (topics, schemas, ports, API, CLI) is the repository's docs/architecture.md; error codes are in docs/errors.md.",
      },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
  });
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: true });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (isVigilError(error)) {
      if (error.httpStatus >= 500) o.logger.error({ code: error.code, url: request.url }, error.message);
      return reply.code(error.httpStatus).send({ error: error.toJSON() });
    }
    if (error.validation) {
      return reply
        .code(400)
        .send(errorBody('VIGIL_API_INVALID_REQUEST', `${error.validationContext ?? 'request'} ${error.message}`));
    }
    if (error.statusCode === 429) {
      return reply.code(429).send(errorBody('VIGIL_API_RATE_LIMITED', error.message));
    }
    if (error.statusCode && error.statusCode < 500) {
      return reply.code(error.statusCode).send(errorBody('VIGIL_API_INVALID_REQUEST', error.message));
    }
    o.logger.error({ code: 'VIGIL_INTERNAL', url: request.url, err: error.message }, 'unhandled API error');
    return reply.code(500).send(errorBody('VIGIL_INTERNAL', 'internal error; the hub log has the details'));
  });

  await app.register(
    async (api) => {
      installRequestAuth(api, o.state.audit);
      // Patient data, audit entries and tokens must not stay in a browser's or proxy's cache.
      api.addHook('onSend', async (_request, reply) => {
        reply.header('cache-control', 'no-store');
      });
      await api.register(authRoutes, {
        auth: o.auth,
        users: o.state.users,
        audit: o.state.audit,
        secureCookies: o.tls,
        loginRateLimitPerMinute: o.loginRateLimitPerMinute,
      });
      const access = new PatientAccess(o.state.followup, o.state, o.state.audit);
      await api.register(patientRoutes, {
        followup: o.followup,
        store: o.state.followup,
        audit: o.state.audit,
        access,
        verdicts: o.state.verdicts,
        today,
      });
      await api.register(alertRoutes, { store: o.state.followup, audit: o.state.audit, events: o.events, access });
      await api.register(resultRoutes, { state: o.state, audit: o.state.audit, access });
      await api.register(verdictRoutes, {
        state: o.state,
        audit: o.state.audit,
        access,
        verdicts: new VerdictService(o.state, o.state.audit),
      });
      await api.register(deviceRoutes, { state: o.state, history: o.history });
      await api.register(adminRoutes, { auth: o.auth, users: o.state.users, audit: o.state.audit });
      await api.register(eventRoutes, { events: o.events, auth: o.auth });
      await api.register(reidRoutes, {
        state: o.state,
        audit: o.state.audit,
        devices: o.devices,
        signingKeyPem: o.reid.signingKeyPem,
        tokenTtlS: o.reid.tokenTtlS,
      });
      await api.register(registerPkiRoutes, {
        enrolment: o.pki.enrolment,
        devices: o.devices,
        enrolRateLimitPerMinute: o.pki.enrolRateLimitPerMinute,
      });
      await api.register(modelRoutes, {
        state: o.state,
        registry: o.registry,
        rollouts: o.rollouts,
        devices: o.devices,
        audit: o.state.audit,
      });
      api.setNotFoundHandler((request, reply) =>
        reply.code(404).send(errorBody('VIGIL_API_NOT_FOUND', `no route ${request.method} ${request.url}`)),
      );
    },
    { prefix: '/api/v1' },
  );

  if (existsSync(join(o.dashboardDir, 'index.html'))) {
    await app.register(fastifyStatic, { root: o.dashboardDir, prefix: '/', wildcard: false, index: 'index.html' });
    // The dashboard routes on the client: any other page path gets the app.
    app.setNotFoundHandler((request, reply) => {
      if (request.method === 'GET' && !request.url.startsWith('/api/') && request.headers.accept?.includes('text/html')) {
        return reply.sendFile('index.html');
      }
      return reply.code(404).send(errorBody('VIGIL_API_NOT_FOUND', `no route ${request.method} ${request.url}`));
    });
  }
}
