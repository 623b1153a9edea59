import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import { type Logger, reidAudience, VigilError, verifyReidToken } from '@vigil/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import type { IdentityIndex } from './identity-index.js';
import type { ReidAuditLog } from './reid-audit.js';

export interface ReidServerOptions {
  clinicId: string;
  deviceId: string;
  host: string;
  port: number;
  tls?: { certFile: string; keyFile: string };
  allowedOrigins: readonly string[];
  hubPublicKeyPem: string;
  index: IdentityIndex;
  audit: ReidAuditLog;
  logger: Logger;
}

const MAX_KEYS = 200;

/**
 * The clinic's re-identification endpoint: `POST /reid/v1/resolve {patientKeys}` with the hub's
 * token as a bearer. The token must verify with the hub's key, be unexpired, and be for a user who
 * sees this edge's clinic; the answer holds only the pseudonyms this clinic knows. Every request,
 * answered or refused, is in the edge's log and reported (keys only) to the hub's audit log.
 * Browsers reach it from the hub's dashboard origin only (CORS).
 */
export async function startReidServer(o: ReidServerOptions): Promise<{ app: FastifyInstance; port: number }> {
  const app = Fastify({
    logger: false,
    bodyLimit: 64 * 1024,
    ...(o.tls ? { https: { cert: readFileSync(o.tls.certFile), key: readFileSync(o.tls.keyFile) } } : {}),
  });
  await app.register(cors, {
    origin: [...o.allowedOrigins],
    methods: ['POST'],
    allowedHeaders: ['authorization', 'content-type'],
    maxAge: 600,
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof VigilError)
      return reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message } });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    return reply.code(status).send({
      error: { code: status === 400 ? 'VIGIL_API_INVALID_REQUEST' : 'VIGIL_INTERNAL', message: (error as Error).message },
    });
  });
  app.get('/reid/v1/health', async () => ({ ok: true, clinicId: o.clinicId, deviceId: o.deviceId }));
  app.post<{ Body: { patientKeys: string[] } }>(
    '/reid/v1/resolve',
    {
      schema: {
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['patientKeys'],
          properties: {
            patientKeys: { type: 'array', maxItems: MAX_KEYS, items: { type: 'string', pattern: '^[0-9a-f]{32}$' } },
          },
        },
      },
    },
    async (request, reply) => {
      const eventId = randomUUID();
      const header = request.headers.authorization ?? '';
      const bearer = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
      let claims: Awaited<ReturnType<typeof verifyReidToken>>;
      try {
        if (!bearer) throw new VigilError('VIGIL_REID_TOKEN_INVALID', 'no re-identification token');
        claims = await verifyReidToken(bearer, o.hubPublicKeyPem, undefined, reidAudience(o.clinicId, o.deviceId));
      } catch (error) {
        o.audit.record({ eventId, username: 'unknown', role: 'none', patientKeys: [], outcome: 'refused', reason: 'token' });
        throw error;
      }
      if (claims.clinics !== null && !claims.clinics.includes(o.clinicId)) {
        o.audit.record({
          eventId,
          username: claims.username,
          role: claims.role,
          patientKeys: [],
          outcome: 'refused',
          reason: 'clinic',
          token: bearer,
        });
        return reply.code(403).send({
          error: { code: 'VIGIL_REID_TOKEN_INVALID', message: `the token's user is not assigned to ${o.clinicId}` },
        });
      }
      const found = o.index.resolve(request.body.patientKeys);
      o.audit.record({
        eventId,
        username: claims.username,
        role: claims.role,
        patientKeys: [...found.keys()],
        outcome: 'resolved',
        token: bearer,
      });
      return {
        clinicId: o.clinicId,
        deviceId: o.deviceId,
        patients: [...found].map(([patientKey, p]) => ({
          patientKey,
          patientName: p.patientName,
          patientId: p.patientId,
          issuerOfPatientId: p.issuerOfPatientId,
          birthDate: p.birthDate,
          patientSex: p.patientSex,
          accessionNumbers: p.studies.map((s) => s.accessionNumber).filter(Boolean),
        })),
      };
    },
  );
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address ? address.port : o.port };
}
