import { createPrivateKey, createPublicKey } from 'node:crypto';
import { jwtVerify, SignJWT } from 'jose';
import { VigilError } from './errors.js';

/**
 * The short-lived token a clinician's browser shows a clinic's edge to have pseudonyms resolved to
 * names there (the hub never sees the names). Signed by the hub (EdDSA, Ed25519) with `jose`; the
 * edge verifies with the hub's public key. Claims: who, their role, the clinics they may see (null:
 * the whole network), a lifetime of a minute, and one edge as audience (reidAudience).
 */
export const REID_AUDIENCE = 'vigil-reid';

/** The audience of a token for one edge: a token opens that edge and no other (not even its clinic's others). */
export function reidAudience(clinicId: string, deviceId: string): string {
  return `${REID_AUDIENCE}:${clinicId}/${deviceId}`;
}
export const REID_ISSUER = 'vigil-hub';

export interface ReidClaims {
  username: string;
  role: string;
  /** null: the whole network. */
  clinics: string[] | null;
}

export async function signReidToken(
  claims: ReidClaims,
  privateKeyPem: string,
  ttlS: number,
  audience: string = REID_AUDIENCE,
): Promise<{ token: string; expiresAt: string }> {
  const now = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ role: claims.role, clinics: claims.clinics })
    .setProtectedHeader({ alg: 'EdDSA', typ: 'JWT' })
    .setSubject(claims.username)
    .setIssuer(REID_ISSUER)
    .setAudience(audience)
    .setIssuedAt(now)
    .setExpirationTime(now + ttlS)
    .sign(createPrivateKey(privateKeyPem));
  return { token, expiresAt: new Date((now + ttlS) * 1000).toISOString() };
}

/**
 * Verifies signature, issuer, audience and expiry; any failure is VIGIL_REID_TOKEN_INVALID. `at`:
 * judge the lifetime at that moment instead of now (the hub checking a token an edge reports it was
 * shown at that time).
 */
export async function verifyReidToken(
  token: string,
  hubPublicKeyPem: string,
  at?: Date,
  audience: string = REID_AUDIENCE,
): Promise<ReidClaims> {
  try {
    const { payload } = await jwtVerify(token, createPublicKey(hubPublicKeyPem), {
      issuer: REID_ISSUER,
      audience,
      algorithms: ['EdDSA'],
      clockTolerance: 5,
      ...(at ? { currentDate: at } : {}),
    });
    const clinics = payload.clinics;
    if (typeof payload.sub !== 'string' || typeof payload.role !== 'string' || !(clinics === null || Array.isArray(clinics))) {
      throw new Error('claims missing');
    }
    return { username: payload.sub, role: payload.role, clinics: clinics as string[] | null };
  } catch (error) {
    throw new VigilError('VIGIL_REID_TOKEN_INVALID', `re-identification token refused: ${(error as Error).message}`);
  }
}
