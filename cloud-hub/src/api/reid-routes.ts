import { createPrivateKey, createPublicKey } from 'node:crypto';
import { type Static, Type } from '@sinclair/typebox';
import { reidAudience, signReidToken, verifyReidToken } from '@vigil/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { seesAny } from '../auth/clinic-scope.js';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { DeviceStore } from '../broker/device-store.js';
import { ERROR_RESPONSES, ReidTokenSchema } from './api-schemas.js';
import { requireDevice } from './device-auth.js';
import { actorOf, principalOf } from './request-auth.js';

/** Events per report and pseudonyms per event (the edge's own limit per lookup); bodies past 256 KiB are refused. */
export const MAX_REID_EVENTS = 20;
export const MAX_REID_KEYS = 200;
const REID_REPORT_BYTES = 256 * 1024;
/** Reports per device per minute. */
const REID_REPORTS_PER_MINUTE = 60;

const ReidEvents = Type.Object(
  {
    events: Type.Array(
      Type.Object(
        {
          eventId: Type.String({ format: 'uuid' }),
          /** Names for pseudonyms (absent: older edges), or a study's images shown in a viewer. */
          kind: Type.Optional(Type.Union([Type.Literal('names'), Type.Literal('images')])),
          at: Type.String({ format: 'date-time' }),
          /** The hub-signed token the browser showed the edge: the only source of who asked. */
          token: Type.Optional(Type.String({ maxLength: 4096 })),
          /** What the edge says the token said: kept for older edges, never trusted. */
          username: Type.Optional(Type.String({ maxLength: 64 })),
          role: Type.Optional(Type.String({ maxLength: 16 })),
          patientKeys: Type.Array(Type.String({ pattern: '^[0-9a-f]{32}$' }), { maxItems: MAX_REID_KEYS }),
          outcome: Type.Union([Type.Literal('resolved'), Type.Literal('refused')]),
          reason: Type.Optional(Type.Union([Type.Literal('token'), Type.Literal('clinic')])),
        },
        { additionalProperties: false },
      ),
      { maxItems: MAX_REID_EVENTS },
    ),
  },
  { additionalProperties: false },
);

export interface ReidRouteOptions {
  state: Pick<DeviceStore, 'listDeviceStates'>;
  audit: AuditStore;
  devices: DeviceRegistry;
  signingKeyPem: string;
  tokenTtlS: number;
}

/**
 * Names and images inside the clinic, never at the hub: a signed-in clinician gets a short-lived
 * token and the endpoints of the edges at their clinics; the browser asks those edges directly (for
 * names, and for the images its viewer shows). Edges report each request (pseudonyms only) back
 * into the audit log.
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
      const claims = { username: p.username, role: p.role, clinics: p.clinics === null ? null : [...p.clinics] };
      // Edges of the user's clinics that are still enrolled (a revoked edge is never offered), each
      // with a token only it accepts.
      const states = (await o.state.listDeviceStates()).filter(
        (d) => d.lastTelemetry?.reid?.url && seesAny(p.clinics, [d.clinicId]),
      );
      const active = await Promise.all(states.map((d) => o.devices.active(d.deviceId)));
      const expiresAt = new Date(Date.now() + o.tokenTtlS * 1000).toISOString();
      const edges = await Promise.all(
        states
          .filter((d, k) => active[k]?.clinicId === d.clinicId)
          .map(async (d) => ({
            clinicId: d.clinicId,
            deviceId: d.deviceId,
            url: d.lastTelemetry?.reid?.url as string,
            token: (await signReidToken(claims, o.signingKeyPem, o.tokenTtlS, reidAudience(d.clinicId, d.deviceId))).token,
          })),
      );
      await o.audit.append({
        ...actorOf(request),
        action: 'reid.token',
        targetType: 'user',
        targetId: p.username,
        outcome: 'success',
        details: { edges: edges.length, expiresAt },
      });
      return { expiresAt, edges };
    },
  );

  const device = (request: FastifyRequest, reply: FastifyReply) => requireDevice(request, reply, o.devices);

  const publicKeyPem = createPublicKey(createPrivateKey(o.signingKeyPem)).export({ type: 'spki', format: 'pem' }).toString();

  app.post<{ Body: Static<typeof ReidEvents> }>(
    '/device/reidentifications',
    {
      config: {
        public: true,
        rateLimit: {
          max: REID_REPORTS_PER_MINUTE,
          timeWindow: '1 minute',
          keyGenerator: (request) => `reid-report:${request.ip}`,
        },
      },
      bodyLimit: REID_REPORT_BYTES,
      schema: {
        tags: ['devices'],
        summary:
          "An edge reports the re-identifications it answered or refused (pseudonyms only, with the hub-signed token it was shown) into the hub's audit log",
        body: ReidEvents,
        response: {
          200: Type.Object({ recorded: Type.Integer(), duplicates: Type.Integer(), unverified: Type.Integer() }),
          401: Type.Ref('ErrorBody'),
        },
      },
    },
    async (request, reply) => {
      const d = await device(request, reply);
      let recorded = 0;
      let duplicates = 0;
      let unverified = 0;
      for (const e of request.body.events) {
        // Idempotent by event id: an edge that resends after a lost answer adds nothing.
        const seen = await o.audit.list({ action: 'reid.event', targetId: e.eventId, limit: 1 });
        if (seen.items.length > 0) {
          duplicates++;
          continue;
        }
        // Who asked is what the hub itself signed, judged at the moment the edge says it was shown;
        // the user must see the reporting device's clinic. The device's own words are never the actor.
        let actor: { username: string; role: string } | undefined;
        let ofThisClinic = false;
        if (e.token) {
          try {
            const claims = await verifyReidToken(e.token, publicKeyPem, new Date(e.at), reidAudience(d.clinicId, d.deviceId));
            actor = { username: claims.username, role: claims.role };
            ofThisClinic = seesAny(claims.clinics, [d.clinicId]);
          } catch {
            actor = undefined;
          }
        }
        // A name given out needs a valid token of a user of this clinic; anything else is a claim.
        const claim = e.outcome === 'resolved' && !ofThisClinic;
        if (claim) unverified++;
        const kind = e.kind ?? 'names';
        const details = { eventId: e.eventId, kind, at: e.at, clinicId: d.clinicId, deviceId: d.deviceId };
        await o.audit.append({
          actor: actor?.username ?? 'unknown',
          actorRole: actor?.role ?? 'none',
          ip: `edge:${d.deviceId}`,
          action: 'reid.event',
          targetType: 'reidentification',
          targetId: e.eventId,
          outcome: e.outcome === 'resolved' && !claim ? 'success' : 'failure',
          details: {
            ...details,
            outcome: e.outcome,
            patientKeys: e.patientKeys.length,
            ...(e.outcome === 'refused' ? { reason: e.reason ?? 'token' } : {}),
            ...(claim ? { reason: 'unverified: no valid hub token for this clinic in the report' } : {}),
          },
        });
        recorded++;
        if (e.outcome !== 'resolved' || claim || !actor) continue;
        for (const key of e.patientKeys) {
          await o.audit.append({
            actor: actor.username,
            actorRole: actor.role,
            ip: `edge:${d.deviceId}`,
            action: kind === 'images' ? 'patient.images.view' : 'patient.reidentify',
            targetType: 'patient',
            targetId: key,
            patientKey: key,
            outcome: 'success',
            details,
          });
        }
      }
      if (unverified > 0)
        request.log.warn({ deviceId: d.deviceId, unverified }, 're-identification events without a valid hub token');
      return { recorded, duplicates, unverified };
    },
  );
}
