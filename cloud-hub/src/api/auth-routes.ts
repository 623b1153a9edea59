import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import type { AuthService } from '../auth/auth-service.js';
import type { UserStore } from '../auth/user-store.js';
import { ERROR_RESPONSES, MeSchema, Nullable, RecoveryCodesSchema, TotpEnrolmentSchema } from './api-schemas.js';
import { actorOf, principalOf, SESSION_COOKIE } from './request-auth.js';

const LoginBody = Type.Object(
  {
    username: Type.String({ minLength: 1, maxLength: 64 }),
    password: Type.String({ minLength: 1, maxLength: 256 }),
    totp: Type.Optional(Type.String({ pattern: '^\\d{6}$' })),
    recoveryCode: Type.Optional(Type.String({ maxLength: 32 })),
  },
  { additionalProperties: false },
);

const TokenBody = Type.Object(
  {
    name: Type.String({ minLength: 1, maxLength: 100 }),
    expiresInDays: Type.Optional(Type.Integer({ minimum: 1, maximum: 3650 })),
  },
  { additionalProperties: false },
);

const TokenInfo = Type.Object({
  tokenId: Type.String(),
  username: Type.String(),
  name: Type.String(),
  createdAt: Type.String(),
  expiresAt: Nullable(Type.String()),
  lastUsedAt: Nullable(Type.String()),
  revokedAt: Nullable(Type.String()),
});

export interface AuthRouteOptions {
  auth: AuthService;
  users: UserStore;
  audit: AuditStore;
  secureCookies: boolean;
  loginRateLimitPerMinute: number;
}

/** Login with password + TOTP, enrolment, logout, who-am-I, and personal API tokens. */
export async function authRoutes(app: FastifyInstance, o: AuthRouteOptions): Promise<void> {
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/auth/login',
    {
      // Per address, whatever cookie or username comes with the attempt.
      config: {
        public: true,
        rateLimit: { max: o.loginRateLimitPerMinute, timeWindow: '1 minute', keyGenerator: (request) => `login:${request.ip}` },
      },
      schema: {
        tags: ['auth'],
        summary: 'Log in with password and TOTP code (or a recovery code)',
        body: LoginBody,
        response: { 200: MeSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const { sessionId, session, user } = await o.auth.login(request.body, request.ip);
      reply.setCookie(SESSION_COOKIE, sessionId, {
        httpOnly: true,
        secure: o.secureCookies,
        sameSite: 'strict',
        path: '/',
        maxAge: o.auth.policy.sessionHours * 3600,
      });
      return {
        username: user.username,
        displayName: user.displayName,
        role: user.role,
        stage: session.stage,
        mfaEnrolmentRequired: session.stage !== 'full',
        csrfToken: session.csrfToken,
        clinics: user.clinics,
      };
    },
  );

  app.get(
    '/auth/me',
    {
      config: { enrolment: true },
      schema: { tags: ['auth'], summary: 'The calling user and session', response: { 200: MeSchema, ...ERROR_RESPONSES } },
    },
    async (request) => {
      const p = principalOf(request);
      return {
        username: p.username,
        displayName: p.displayName,
        role: p.role,
        stage: p.stage,
        mfaEnrolmentRequired: p.stage !== 'full',
        csrfToken: p.csrfToken ?? null,
        clinics: p.clinics,
      };
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { enrolment: true },
      schema: { tags: ['auth'], summary: 'End the session', response: { 204: Type.Null(), ...ERROR_RESPONSES } },
    },
    async (request, reply) => {
      const p = principalOf(request);
      await o.auth.logout(p);
      await o.audit.append({
        ...actorOf(request),
        action: 'auth.logout',
        targetType: 'user',
        targetId: p.username,
        outcome: 'success',
      });
      reply.clearCookie(SESSION_COOKIE, { path: '/' });
      return reply.code(204).send();
    },
  );

  app.post(
    '/auth/totp/enrolment',
    {
      config: { enrolment: true },
      schema: {
        tags: ['auth'],
        summary: 'Start TOTP enrolment: a new secret, its otpauth URI and QR code (SVG)',
        response: {
          200: TotpEnrolmentSchema,
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => o.auth.startEnrolment(principalOf(request)),
  );

  app.post<{ Body: { totp: string } }>(
    '/auth/totp/confirm',
    {
      config: { enrolment: true },
      schema: {
        tags: ['auth'],
        summary: 'Confirm TOTP enrolment with a code; returns one-time recovery codes',
        body: Type.Object({ totp: Type.String({ pattern: '^\\d{6}$' }) }, { additionalProperties: false }),
        response: { 200: RecoveryCodesSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => o.auth.confirmEnrolment(principalOf(request), request.body.totp, request.ip),
  );

  app.get(
    '/tokens',
    {
      config: { authenticated: true },
      schema: {
        tags: ['auth'],
        summary: "The caller's API tokens (never their secrets)",
        response: { 200: Type.Object({ items: Type.Array(TokenInfo) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({ items: await o.users.listTokens(principalOf(request).username) }),
  );

  app.post<{ Body: Static<typeof TokenBody> }>(
    '/tokens',
    {
      config: { authenticated: true },
      schema: {
        tags: ['auth'],
        summary: 'Create an API token for automation (shown once; use as Authorization: Bearer)',
        body: TokenBody,
        response: { 201: Type.Object({ tokenId: Type.String(), token: Type.String() }), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const created = await o.auth.createToken(p, request.body.name, request.body.expiresInDays);
      await o.audit.append({
        ...actorOf(request),
        action: 'token.create',
        targetType: 'token',
        targetId: created.tokenId,
        outcome: 'success',
        details: { name: request.body.name, expiresInDays: request.body.expiresInDays ?? null },
      });
      return reply.code(201).send(created);
    },
  );

  app.delete<{ Params: { tokenId: string } }>(
    '/tokens/:tokenId',
    {
      config: { authenticated: true },
      schema: {
        tags: ['auth'],
        summary: 'Revoke an API token (own tokens; admins any)',
        params: Type.Object({ tokenId: Type.String({ maxLength: 32 }) }),
        response: { 204: Type.Null(), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const p = principalOf(request);
      const token = await o.users.getToken(request.params.tokenId);
      if (!token || (token.username !== p.username && p.role !== 'admin')) {
        throw new VigilError('VIGIL_API_NOT_FOUND', `token ${request.params.tokenId} does not exist`);
      }
      await o.users.revokeToken(token.tokenId);
      await o.audit.append({
        ...actorOf(request),
        action: 'token.revoke',
        targetType: 'token',
        targetId: token.tokenId,
        outcome: 'success',
      });
      return reply.code(204).send();
    },
  );
}
