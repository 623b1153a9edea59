import { timingSafeEqual } from 'node:crypto';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditInput, AuditStore } from '../audit/audit-store.js';
import { type Permission, roleAllows } from '../auth/access-policy.js';
import type { AuthService, Principal } from '../auth/auth-service.js';

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** The permission a route needs; routes without one must be marked public. */
    permission?: Permission;
    /** Open without a session (login, health). */
    public?: boolean;
    /** Open to a session that has a password but no TOTP yet (the enrolment routes). */
    enrolment?: boolean;
    /** Any full session may call it (who-am-I, logout, own tokens). */
    authenticated?: boolean;
    /**
     * Only for users who see the whole network: the route acts on every clinic at once (a rollout's
     * waves, user administration, the audit log).
     */
    network?: boolean;
  }
}

export const SESSION_COOKIE = 'vigil_session';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Authentication and authorisation for every /api/v1 route, in one place: who is calling (session
 * cookie or bearer token), whether they finished MFA, CSRF for cookie sessions (double submit:
 * the session's token must come back in `x-csrf-token`), and the route's permission for their role.
 */
/**
 * Who is calling, resolved once per request before anything else (the rate limiter included, so that
 * it can key a request by its real user and never by a cookie value the client made up).
 */
export function installPrincipal(app: FastifyInstance, auth: AuthService): void {
  app.decorateRequest('principal', null);
  app.addHook('onRequest', async (request) => {
    const header = request.headers.authorization;
    const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
    request.principal = (await auth.authenticate(request.cookies[SESSION_COOKIE], bearer)) ?? null;
  });
}

/** The per-route checks; `installPrincipal` must have run on a parent scope. */
export function installRequestAuth(app: FastifyInstance, audit: AuditStore): void {
  // preValidation: an anonymous caller learns nothing, not even whether its body would validate.
  app.addHook('preValidation', async (request) => {
    const config = request.routeOptions.config;
    if (config.public || request.is404) return;
    const principal = request.principal;
    if (!principal) throw new VigilError('VIGIL_AUTH_REQUIRED', 'log in or send an API token');
    if (principal.stage !== 'full' && !config.enrolment) {
      throw new VigilError('VIGIL_AUTH_MFA_REQUIRED', 'finish TOTP enrolment before using the API');
    }
    if (principal.via === 'session' && !SAFE_METHODS.has(request.method)) {
      const sent = request.headers['x-csrf-token'];
      if (typeof sent !== 'string' || !principal.csrfToken || !sameSecret(sent, principal.csrfToken)) {
        throw new VigilError('VIGIL_AUTH_CSRF', 'missing or wrong x-csrf-token header');
      }
    }
    if (config.enrolment || config.authenticated) return;
    if (!config.permission || !roleAllows(principal.role, config.permission)) {
      await audit.append({
        ...actorOf(request),
        action: 'access.denied',
        targetType: 'route',
        targetId: `${request.method} ${request.routeOptions.url ?? request.url}`.slice(0, 200),
        outcome: 'failure',
        details: { permission: config.permission ?? 'none' },
      });
      throw new VigilError('VIGIL_AUTH_FORBIDDEN', `role ${principal.role} may not ${config.permission ?? 'call this route'}`);
    }
    if (config.network && principal.clinics !== null) {
      await audit.append({
        ...actorOf(request),
        action: 'access.denied',
        targetType: 'route',
        targetId: `${request.method} ${request.routeOptions.url ?? request.url}`.slice(0, 200),
        outcome: 'failure',
        details: { permission: config.permission, reason: 'needs a user who sees the whole network', clinics: principal.clinics },
      });
      throw new VigilError(
        'VIGIL_AUTH_FORBIDDEN',
        `${config.permission} acts on every clinic; a user assigned to ${principal.clinics.join(', ') || 'no clinic'} may not`,
      );
    }
  });
}

export function actorOf(request: FastifyRequest): Pick<AuditInput, 'actor' | 'actorRole' | 'ip'> {
  return {
    actor: request.principal?.username ?? 'anonymous',
    actorRole: request.principal?.role ?? 'none',
    ip: request.ip,
  };
}

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new VigilError('VIGIL_AUTH_REQUIRED', 'log in or send an API token');
  return request.principal;
}
