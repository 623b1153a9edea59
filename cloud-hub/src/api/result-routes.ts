import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { scopeFilter } from '../auth/clinic-scope.js';
import type { ResultStore } from '../results/result-store.js';
import { ERROR_RESPONSES, Key, PageOf, PageQuery, ResultSchema } from './api-schemas.js';
import type { PatientAccess } from './patient-access.js';
import { actorOf, principalOf } from './request-auth.js';

const ResultQuery = Type.Object({
  ...PageQuery,
  clinicId: Type.Optional(Key),
  deviceId: Type.Optional(Key),
  patientKey: Type.Optional(Key),
  from: Type.Optional(Type.String({ format: 'date-time', description: 'createdAt ≥ from' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'createdAt < to' })),
  minScore: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
});

export interface ResultRouteOptions {
  state: Pick<ResultStore, 'getResult' | 'queryResults'>;
  audit: AuditStore;
  access: PatientAccess;
}

/** Inference results (de-identified), newest first. Shadow-mode results are never listed here. */
export async function resultRoutes(app: FastifyInstance, o: ResultRouteOptions): Promise<void> {
  app.get<{ Querystring: Static<typeof ResultQuery> }>(
    '/results',
    {
      config: { permission: 'results:read' },
      schema: {
        tags: ['clinical'],
        summary: 'Results filtered by clinic, device, patient, time and score',
        querystring: ResultQuery,
        response: { 200: PageOf(ResultSchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const page = await o.state.queryResults({
        limit,
        ...(cursor ? { cursor } : {}),
        ...filter,
        ...scopeFilter(principalOf(request).clinics),
      });
      await o.audit.append({
        ...actorOf(request),
        action: 'result.list',
        targetType: 'result',
        targetId: '*',
        patientKey: filter.patientKey ?? null,
        outcome: 'success',
        details: { filter, returned: page.items.length },
      });
      return page;
    },
  );

  app.get<{ Params: { resultId: string } }>(
    '/results/:resultId',
    {
      config: { permission: 'results:read' },
      schema: {
        tags: ['clinical'],
        summary: 'One result',
        params: Type.Object({ resultId: Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' }) }),
        response: { 200: ResultSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const result = await o.state.getResult(request.params.resultId);
      if (!result || result.shadow)
        throw new VigilError('VIGIL_API_NOT_FOUND', `result ${request.params.resultId} does not exist`);
      await o.access.requireRecord(request, result.clinicId, result.patientKey, `result ${request.params.resultId}`);
      await o.audit.append({
        ...actorOf(request),
        action: 'result.read',
        targetType: 'result',
        targetId: result.messageId,
        patientKey: result.patientKey,
        outcome: 'success',
      });
      return result;
    },
  );
}
