import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { scopeFilter } from '../auth/clinic-scope.js';
import { categoryLabel } from '../followup/category.js';
import type { FollowupRunner } from '../followup/followup-service.js';
import type { FollowupStore } from '../followup/followup-store.js';
import { timelineSummary } from '../followup/overdue.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';
import { ERROR_RESPONSES, Key, PageOf, PageQuery, PatientSummarySchema, TimelineSchema } from './api-schemas.js';
import type { PatientAccess } from './patient-access.js';
import { actorOf, principalOf } from './request-auth.js';

const PatientQuery = Type.Object({
  ...PageQuery,
  clinicId: Type.Optional(Key),
  overdue: Type.Optional(Type.Boolean({ description: 'only patients past their recommended follow-up date' })),
});

export interface PatientRouteOptions {
  followup: FollowupRunner;
  store: FollowupStore;
  audit: AuditStore;
  access: PatientAccess;
  verdicts: VerdictStore;
  today: () => string;
}

/** Patients (pseudonymous) and their follow-up timelines. Every read is audited. */
export async function patientRoutes(app: FastifyInstance, o: PatientRouteOptions): Promise<void> {
  app.get<{ Querystring: Static<typeof PatientQuery> }>(
    '/patients',
    {
      config: { permission: 'patients:read' },
      schema: {
        tags: ['clinical'],
        summary: 'Patients with their latest study, model-derived category and follow-up due date',
        querystring: PatientQuery,
        response: { 200: PageOf(PatientSummarySchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const page = await o.store.listPatients({
        limit: q.limit,
        ...(q.cursor ? { cursor: q.cursor } : {}),
        ...(q.clinicId ? { clinicId: q.clinicId } : {}),
        ...(q.overdue ? { dueBefore: o.today() } : {}),
        ...scopeFilter(principalOf(request).clinics),
      });
      await o.audit.append({
        ...actorOf(request),
        action: 'patient.list',
        targetType: 'patient',
        targetId: '*',
        outcome: 'success',
        details: { filter: { clinicId: q.clinicId ?? null, overdue: q.overdue ?? false }, returned: page.items.length },
      });
      return page;
    },
  );

  app.get<{ Params: { patientKey: string } }>(
    '/patients/:patientKey/timeline',
    {
      config: { permission: 'patients:read' },
      schema: {
        tags: ['clinical'],
        summary: "A patient's follow-up timeline: studies, per laterality × view lesion tracks, alerts, next due date",
        params: Type.Object({ patientKey: Key }),
        response: { 200: TimelineSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { patientKey } = request.params;
      await o.access.require(request, patientKey, `patient ${patientKey}`);
      const { clinics } = principalOf(request);
      // A scoped user's timeline is built from their clinics' results alone.
      const { timeline, due } = await o.followup.timeline(patientKey, clinics);
      await o.audit.append({
        ...actorOf(request),
        action: 'patient.timeline.read',
        targetType: 'patient',
        targetId: patientKey,
        patientKey,
        outcome: timeline.studies.length > 0 ? 'success' : 'failure',
      });
      if (timeline.studies.length === 0) throw new VigilError('VIGIL_API_NOT_FOUND', `no studies for patient ${patientKey}`);
      const alerts = await o.store.listAlerts({ patientKey, limit: 500, ...scopeFilter(clinics) });
      const stored = await o.store.getPatient(patientKey);
      // The summary of what the caller sees: for a scoped user, from their clinics' studies only.
      const scoped = clinics !== null ? timelineSummary(patientKey, timeline, due) : undefined;
      const patient =
        stored && scoped
          ? { ...stored, ...scoped, openAlerts: alerts.items.filter((a) => a.status === 'open').length }
          : (stored ?? null);
      return {
        patient,
        due: due ? { ...due, categoryLabel: categoryLabel(due.category) } : null,
        // Only the caller's clinics' studies: another clinic's are not shown, not even marked.
        studies: timeline.studies.map((s) => ({ ...s, categoryLabel: categoryLabel(s.category) })),
        verdicts: await o.verdicts.current({ patientKey, ...scopeFilter(clinics) }),
        series: timeline.series,
        alerts: alerts.items,
      };
    },
  );
}
