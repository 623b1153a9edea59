import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import cors from '@fastify/cors';
import { type Logger, VigilError } from '@vigil/shared';
import Fastify, { type FastifyInstance } from 'fastify';
import { dicomwebRoutes } from '../viewing/dicomweb-routes.js';
import type { ClinicImageStore } from '../viewing/image-store.js';
import { admitClinician } from './clinic-token.js';
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
  /** The clinic's images for viewers (DICOMweb); absent: names only. */
  images?: { store: ClinicImageStore; requestsPerMinute: number };
  logger: Logger;
}

const MAX_KEYS = 200;

/**
 * The clinic's endpoint for clinicians' browsers. Names: `POST /reid/v1/resolve {patientKeys}` with
 * the hub's token as a bearer. Images: the DICOMweb subset of viewing/dicomweb-routes.ts, opened by
 * the same token. The token must verify with the hub's key, be unexpired, and be for a user who
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
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'accept'],
    maxAge: 600,
  });
  app.setErrorHandler((error, _request, reply) => {
    if (error instanceof VigilError)
      return reply.code(error.httpStatus).send({ error: { code: error.code, message: error.message } });
    const status = (error as { statusCode?: number }).statusCode ?? 500;
    const code = status === 400 ? 'VIGIL_API_INVALID_REQUEST' : status === 429 ? 'VIGIL_API_RATE_LIMITED' : 'VIGIL_INTERNAL';
    return reply.code(status).send({ error: { code, message: (error as Error).message } });
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
      const admitted = await admitClinician(request, reply, o, { eventId, kind: 'names' });
      if (!admitted) return reply;
      const { claims, bearer } = admitted;
      const found = o.index.resolve(request.body.patientKeys);
      o.audit.record({
        eventId,
        kind: 'names',
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
  if (o.images) {
    await dicomwebRoutes(app, {
      clinicId: o.clinicId,
      deviceId: o.deviceId,
      hubPublicKeyPem: o.hubPublicKeyPem,
      store: o.images.store,
      audit: o.audit,
      requestsPerMinute: o.images.requestsPerMinute,
    });
  }
  await app.listen({ host: o.host, port: o.port });
  const address = app.server.address();
  return { app, port: typeof address === 'object' && address ? address.port : o.port };
}
