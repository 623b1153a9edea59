import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { categoryLabel } from '../followup/category.js';
import type { FollowupRunner } from '../followup/followup-service.js';
import type { FollowupStore } from '../followup/followup-store.js';
import { AlertSchema, ERROR_RESPONSES, Key, Nullable, PageOf, PageQuery, PatientSummarySchema } from './api-schemas.js';
import { actorOf } from './request-auth.js';

const TrackPoint = Type.Object({
  resultId: Type.String(),
  findingIndex: Type.Integer(),
  studyKey: Type.String(),
  studyDate: Type.String(),
  x: Type.Number(),
  y: Type.Number(),
  diameterMm: Type.Number(),
  score: Type.Number(),
});

const Timeline = Type.Object({
  patient: Nullable(PatientSummarySchema),
  due: Nullable(
    Type.Object({
      lastStudyDate: Type.String(),
      category: Type.Integer(),
      categoryLabel: Type.String(),
      intervalMonths: Type.Number(),
      dueDate: Type.String(),
    }),
  ),
  studies: Type.Array(
    Type.Object({
      studyKey: Type.String(),
      studyDate: Type.String(),
      clinicId: Type.String(),
      deviceId: Type.String(),
      category: Type.Integer(),
      categoryLabel: Type.String(),
      score: Type.Number(),
      /** False for a study whose images show no tissue (blank exposures): listed, but no follow-up. */
      analysable: Type.Boolean(),
    }),
  ),
  series: Type.Array(
    Type.Object({
      laterality: Type.String(),
      view: Type.String(),
      studies: Type.Array(
        Type.Object({
          studyKey: Type.String(),
          studyDate: Type.String(),
          resultId: Type.String(),
          clinicId: Type.String(),
          deviceId: Type.String(),
          score: Type.Number(),
          category: Type.Integer(),
          trackIds: Type.Array(Type.String()),
        }),
      ),
      tracks: Type.Array(Type.Object({ trackId: Type.String(), points: Type.Array(TrackPoint) })),
    }),
  ),
  alerts: Type.Array(AlertSchema),
});

const PatientQuery = Type.Object({
  ...PageQuery,
  clinicId: Type.Optional(Key),
  overdue: Type.Optional(Type.Boolean({ description: 'only patients past their recommended follow-up date' })),
});

export interface PatientRouteOptions {
  followup: FollowupRunner;
  store: FollowupStore;
  audit: AuditStore;
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
        response: { 200: Timeline, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { patientKey } = request.params;
      const { timeline, due } = await o.followup.timeline(patientKey);
      await o.audit.append({
        ...actorOf(request),
        action: 'patient.timeline.read',
        targetType: 'patient',
        targetId: patientKey,
        patientKey,
        outcome: timeline.studies.length > 0 ? 'success' : 'failure',
      });
      if (timeline.studies.length === 0) throw new VigilError('VIGIL_API_NOT_FOUND', `no studies for patient ${patientKey}`);
      const alerts = await o.store.listAlerts({ patientKey, limit: 500 });
      return {
        patient: (await o.store.getPatient(patientKey)) ?? null,
        due: due ? { ...due, categoryLabel: categoryLabel(due.category) } : null,
        studies: timeline.studies.map((s) => ({ ...s, categoryLabel: categoryLabel(s.category) })),
        series: timeline.series,
        alerts: alerts.items,
      };
    },
  );
}
