import { type ReidClaims, reidAudience, VigilError, verifyReidToken } from '@vigil/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ReidAuditLog, ReidEvent } from './reid-audit.js';

export interface ClinicTokenCheck {
  clinicId: string;
  deviceId: string;
  hubPublicKeyPem: string;
}

export type ClinicAccess =
  | { ok: true; claims: ReidClaims; bearer: string }
  | { ok: false; status: 401 | 403; reason: 'token' | 'clinic'; claims?: ReidClaims; bearer?: string; error: VigilError };

/**
 * Who is asking the clinic's edge, from the hub-signed bearer token: it must verify with the hub's
 * key, be unexpired, name this edge as its audience, and belong to a user who sees this clinic.
 * Names and images are opened by the same check.
 */
export async function clinicAccess(request: FastifyRequest, o: ClinicTokenCheck): Promise<ClinicAccess> {
  const header = request.headers.authorization ?? '';
  const bearer = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
  let claims: ReidClaims;
  try {
    if (!bearer) throw new VigilError('VIGIL_REID_TOKEN_INVALID', 'no clinic token');
    claims = await verifyReidToken(bearer, o.hubPublicKeyPem, undefined, reidAudience(o.clinicId, o.deviceId));
  } catch (error) {
    return { ok: false, status: 401, reason: 'token', error: error as VigilError };
  }
  if (claims.clinics !== null && !claims.clinics.includes(o.clinicId)) {
    return {
      ok: false,
      status: 403,
      reason: 'clinic',
      claims,
      bearer,
      error: new VigilError('VIGIL_REID_TOKEN_INVALID', `the token's user is not assigned to ${o.clinicId}`),
    };
  }
  return { ok: true, claims, bearer };
}

/**
 * `clinicAccess` for a route: a refusal is recorded in the edge's log (who, if the token said, and
 * why) and answered with its status and code, and the route gets undefined; an access gets the
 * claims and the token, for the route to record what it answered.
 */
export async function admitClinician(
  request: FastifyRequest,
  reply: FastifyReply,
  o: ClinicTokenCheck & { audit: ReidAuditLog },
  event: { eventId: string; kind: NonNullable<ReidEvent['kind']> },
): Promise<{ claims: ReidClaims; bearer: string } | undefined> {
  const access = await clinicAccess(request, o);
  if (access.ok) return { claims: access.claims, bearer: access.bearer };
  o.audit.record({
    ...event,
    username: access.claims?.username ?? 'unknown',
    role: access.claims?.role ?? 'none',
    patientKeys: [],
    outcome: 'refused',
    reason: access.reason,
    ...(access.bearer ? { token: access.bearer } : {}),
  });
  await reply.code(access.status).send({ error: { code: access.error.code, message: access.error.message } });
  return undefined;
}
