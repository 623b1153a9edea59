import { type Static, Type } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import type { AuthService } from '../auth/auth-service.js';
import { normaliseClinics } from '../auth/clinic-scope.js';
import { applyUserAction, USER_ACTIONS } from '../auth/user-actions.js';
import type { UserRecord, UserStore } from '../auth/user-store.js';
import { AuditEntrySchema, AuditVerificationSchema, ClinicsSchema, ERROR_RESPONSES, PageOf, PageQuery } from './api-schemas.js';
import { actorOf } from './request-auth.js';

const Role = Type.Union([Type.Literal('clinician'), Type.Literal('ops'), Type.Literal('admin')]);

const UserInfo = Type.Object({
  username: Type.String(),
  displayName: Type.String(),
  role: Type.String(),
  mfaEnrolled: Type.Boolean(),
  locked: Type.Boolean(),
  disabled: Type.Boolean(),
  createdAt: Type.String(),
  clinics: ClinicsSchema,
});

function info(u: UserRecord): Static<typeof UserInfo> {
  return {
    username: u.username,
    displayName: u.displayName,
    role: u.role,
    mfaEnrolled: u.totpSecret !== null,
    locked: u.lockedUntil !== null && u.lockedUntil > new Date().toISOString(),
    disabled: u.disabledAt !== null,
    createdAt: u.createdAt,
    clinics: u.clinics,
  };
}

const NewUser = Type.Object(
  {
    username: Type.String({ minLength: 2, maxLength: 64 }),
    displayName: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
    role: Role,
    password: Type.String({ minLength: 12, maxLength: 256 }),
    /** Absent or null: the whole network. */
    clinics: Type.Optional(ClinicsSchema),
  },
  { additionalProperties: false },
);

const AuditQuery = Type.Object({
  ...PageQuery,
  actor: Type.Optional(Type.String({ maxLength: 64 })),
  patientKey: Type.Optional(Type.String({ maxLength: 128 })),
  action: Type.Optional(Type.String({ maxLength: 64 })),
});

export interface AdminRouteOptions {
  auth: AuthService;
  users: UserStore;
  audit: AuditStore;
}

/** Users (admin) and the audit log (admin). */
export async function adminRoutes(app: FastifyInstance, o: AdminRouteOptions): Promise<void> {
  app.get(
    '/users',
    {
      config: { permission: 'users:read', network: true },
      schema: { tags: ['admin'], summary: 'Users', response: { 200: PageOf(UserInfo), ...ERROR_RESPONSES } },
    },
    async () => ({ items: (await o.users.listUsers()).map(info), next: null }),
  );

  app.post<{ Body: Static<typeof NewUser> }>(
    '/users',
    {
      config: { permission: 'users:write', network: true },
      schema: {
        tags: ['admin'],
        summary: 'Create a user; they enrol TOTP at first login',
        body: NewUser,
        response: { 201: UserInfo, 409: Type.Ref('ErrorBody'), ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const user = await o.auth.createUser(request.body);
      await o.audit.append({
        ...actorOf(request),
        action: 'user.create',
        targetType: 'user',
        targetId: user.username,
        outcome: 'success',
        details: { role: user.role, clinics: user.clinics },
      });
      return reply.code(201).send(info(user));
    },
  );

  app.put<{ Params: { username: string }; Body: { clinics: string[] | null } }>(
    '/users/:username/clinics',
    {
      config: { permission: 'users:write', network: true },
      schema: {
        tags: ['admin'],
        summary: "Set the clinics a user may see (null: the whole network); applies to the user's next request",
        params: Type.Object({ username: Type.String({ maxLength: 64 }) }),
        body: Type.Object({ clinics: ClinicsSchema }, { additionalProperties: false }),
        response: { 200: UserInfo, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { username } = request.params;
      const before = await o.users.getUser(username);
      const clinics = normaliseClinics(request.body.clinics);
      await o.users.updateUser(username, { clinics });
      await o.audit.append({
        ...actorOf(request),
        action: 'user.clinics',
        targetType: 'user',
        targetId: username,
        outcome: 'success',
        details: { from: before?.clinics ?? null, to: clinics },
      });
      return info((await o.users.getUser(username)) as UserRecord);
    },
  );

  for (const action of USER_ACTIONS) {
    app.post<{ Params: { username: string } }>(
      `/users/:username/${action}`,
      {
        config: { permission: 'users:write', network: true },
        schema: {
          tags: ['admin'],
          summary:
            action === 'reset-mfa'
              ? 'Clear the TOTP secret and recovery codes; the user re-enrols at next login'
              : `${action[0]?.toUpperCase()}${action.slice(1)} a user`,
          params: Type.Object({ username: Type.String({ maxLength: 64 }) }),
          response: { 200: UserInfo, ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const { username } = request.params;
        const user = await applyUserAction(o.users, username, action);
        if (action === 'unlock') await o.auth.clearLockouts(username);
        await o.audit.append({
          ...actorOf(request),
          action: `user.${action}`,
          targetType: 'user',
          targetId: username,
          outcome: 'success',
        });
        return info(user);
      },
    );
  }

  app.get<{ Querystring: Static<typeof AuditQuery> }>(
    '/audit',
    {
      config: { permission: 'audit:read', network: true },
      schema: {
        tags: ['admin'],
        summary: 'The audit log, newest first (filter by actor, patient, action)',
        querystring: AuditQuery,
        response: { 200: PageOf(AuditEntrySchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      return o.audit.list({ limit, ...(cursor ? { cursor } : {}), ...filter });
    },
  );

  app.get(
    '/audit/verify',
    {
      config: { permission: 'audit:read', network: true },
      schema: {
        tags: ['admin'],
        summary: "Recompute the audit log's hash chain; names the first altered entry",
        response: {
          200: AuditVerificationSchema,
          ...ERROR_RESPONSES,
        },
      },
    },
    async () => o.audit.verify(),
  );
}
