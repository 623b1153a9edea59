import { type Static, Type } from '@sinclair/typebox';
import { signReidToken } from '@vigil/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { seesAny } from '../auth/clinic-scope.js';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { StateStore } from '../state/state-store.js';
import { ERROR_RESPONSES, ReidTokenSchema } from './api-schemas.js';
import { requireDevice } from './device-auth.js';
import { actorOf, principalOf } from './request-auth.js';

const ReidEvents = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          eventId: Type.String({ format: 'uuid' }),
          at: Type.String({ format: 'date-time' }),
          username: Type.String({ maxLength: 64 }),
          role: Type.String({ maxLength: 16 }),
          patientKeys: Type.Array(Type.String({ pattern: '^[0-9a-f]{32}$' }), { maxItems: 200 }),
          outcome: Type.Union([Type.Literal('resolved'), Type.Literal('refused')]),
          reason: Type.Optional(Type.Union([Type.Literal('token'), Type.Literal('clinic')])),
        },
        { additionalProperties: false },
      ),
      { maxItems: 500 },
    ),
  },
  { additionalProperties: false },
);

export interface ReidRouteOptions {
  state: StateStore;
  audit: AuditStore;
  devices: DeviceRegistry;
  signingKeyPem: string;
  tokenTtlS: number;
}

/**
 * Names inside the clinic, never at the hub: a signed-in clinician gets a short-lived token and the
 * re-identification endpoints of the edges at their clinics; the browser asks those edges directly.
 * Edges report each re-identification (pseudonyms only) back into the audit log.
 */
export async function reidRoutes(app: FastifyInstance, o: ReidRouteOptions): Promise<void> {
  app.post(
    '/reid/token',
    {
      config: { permission: 'patients:read' },
      schema: {
        tags: ['clinical'],
        summary:
          "A short-lived token for the clinic edges' re-identification endpoints, and where they are (names are resolved in the browser, inside the clinic)",
        response: { 200: ReidTokenSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const p = principalOf(request);
      const { token, expiresAt } = await signReidToken(
        { username: p.username, role: p.role, clinics: p.clinics === null ? null : [...p.clinics] },
        o.signingKeyPem,
        o.tokenTtlS,
      );
      const edges = (await o.state.listDeviceStates())
        .filter((d) => d.lastTelemetry?.reid?.url && seesAny(p.clinics, [d.clinicId]))
        .map((d) => ({ clinicId: d.clinicId, deviceId: d.deviceId, url: d.lastTelemetry?.reid?.url as string }));
      await o.audit.append({
        ...actorOf(request),
        action: 'reid.token',
        targetType: 'user',
        targetId: p.username,
        outcome: 'success',
        details: { edges: edges.length, expiresAt },
      });
      return { token, expiresAt, edges };
    },
  );

  const device = (request: FastifyRequest, reply: FastifyReply) => requireDevice(request, reply, o.devices);

  app.post<{ Body: Static<typeof ReidEvents> }>(
    '/device/reidentifications',
    {
      config: { public: true },
      schema: {
        tags: ['devices'],
        summary: "An edge reports the re-identifications it answered or refused (pseudonyms only) into the hub's audit log",
        body: ReidEvents,
        response: { 200: Type.Object({ recorded: Type.Integer() }), 401: Type.Ref('ErrorBody') },
      },
    },
    async (request, reply) => {
      const d = await device(request, reply);
      let recorded = 0;
      for (const e of request.body.events) {
        const common = {
          actor: e.username,
          actorRole: e.role,
          ip: `edge:${d.deviceId}`,
          details: { eventId: e.eventId, at: e.at, clinicId: d.clinicId, deviceId: d.deviceId },
        };
        if (e.outcome === 'refused') {
          await o.audit.append({
            ...common,
            action: 'patient.reidentify',
            targetType: 'patient',
            targetId: '*',
            outcome: 'failure',
            details: { ...common.details, reason: e.reason ?? 'token' },
          });
          recorded++;
          continue;
        }
        for (const key of e.patientKeys) {
          await o.audit.append({
            ...common,
            action: 'patient.reidentify',
            targetType: 'patient',
            targetId: key,
            patientKey: key,
            outcome: 'success',
          });
          recorded++;
        }
      }
      return { recorded };
    },
  );
}
