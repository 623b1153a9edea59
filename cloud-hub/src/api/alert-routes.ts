import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { scopeFilter } from '../auth/clinic-scope.js';
import type { HubEvents } from '../events/hub-events.js';
import type { FollowupStore } from '../followup/followup-store.js';
import {
  AlertKindSchema,
  AlertSchema,
  AlertSeveritySchema,
  AlertStatusSchema,
  ERROR_RESPONSES,
  Key,
  PageOf,
  PageQuery,
} from './api-schemas.js';
import type { PatientAccess } from './patient-access.js';
import { actorOf, principalOf } from './request-auth.js';

const AlertQuery = Type.Object({
  ...PageQuery,
  status: Type.Optional(AlertStatusSchema),
  kind: Type.Optional(AlertKindSchema),
  severity: Type.Optional(AlertSeveritySchema),
  /** inbox: warning and critical alerts; review: the "to review" level (info). */
  level: Type.Optional(Type.Union([Type.Literal('inbox'), Type.Literal('review')])),
  patientKey: Type.Optional(Key),
  clinicId: Type.Optional(Key),
});

const AlertKeyParam = Type.Object({ alertKey: Type.String({ pattern: '^[a-z-]+:[A-Za-z0-9_:-]{1,300}$' }) });
const TransitionBody = Type.Object({ note: Type.Optional(Type.String({ maxLength: 2000 })) }, { additionalProperties: false });

export interface AlertRouteOptions {
  store: FollowupStore;
  audit: AuditStore;
  events: HubEvents;
  access: PatientAccess;
}

/** The alerts inbox and the open → acknowledged → resolved lifecycle, with who and when. */
export async function alertRoutes(app: FastifyInstance, o: AlertRouteOptions): Promise<void> {
  app.get<{ Querystring: Static<typeof AlertQuery> }>(
    '/alerts',
    {
      config: { permission: 'alerts:read' },
      schema: {
        tags: ['clinical'],
        summary: 'Follow-up alerts, newest first',
        querystring: AlertQuery,
        response: { 200: PageOf(AlertSchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const page = await o.store.listAlerts({
        limit,
        ...(cursor ? { cursor } : {}),
        ...filter,
        ...scopeFilter(principalOf(request).clinics),
      });
      await o.audit.append({
        ...actorOf(request),
        action: 'alert.list',
        targetType: 'alert',
        targetId: '*',
        patientKey: filter.patientKey ?? null,
        outcome: 'success',
        details: { filter, returned: page.items.length },
      });
      return page;
    },
  );

  for (const to of ['acknowledged', 'resolved'] as const) {
    const verb = to === 'acknowledged' ? 'acknowledge' : 'resolve';
    app.post<{ Params: Static<typeof AlertKeyParam>; Body: Static<typeof TransitionBody> }>(
      `/alerts/:alertKey/${verb}`,
      {
        config: { permission: 'alerts:write' },
        schema: {
          tags: ['clinical'],
          summary: `${verb[0]?.toUpperCase()}${verb.slice(1)} an alert (optionally with a note)`,
          params: AlertKeyParam,
          body: TransitionBody,
          response: { 200: AlertSchema, 409: Type.Ref('ErrorBody'), ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const p = principalOf(request);
        const { alertKey } = request.params;
        const before = await o.store.getAlert(alertKey);
        if (!before) throw new VigilError('VIGIL_API_NOT_FOUND', `alert ${alertKey} does not exist`);
        await o.access.requireRecord(request, before.clinicId, before.patientKey, `alert ${alertKey}`);
        let alert: Awaited<ReturnType<FollowupStore['transitionAlert']>>;
        try {
          alert = await o.store.transitionAlert(alertKey, to, p.username, request.body?.note);
        } catch (error) {
          await o.audit.append({
            ...actorOf(request),
            action: `alert.${verb}`,
            targetType: 'alert',
            targetId: alertKey,
            patientKey: before.patientKey,
            outcome: 'failure',
            details: { from: before.status },
          });
          throw error;
        }
        await o.audit.append({
          ...actorOf(request),
          action: `alert.${verb}`,
          targetType: 'alert',
          targetId: alertKey,
          patientKey: alert.patientKey,
          outcome: 'success',
          details: { from: before.status, to, note: request.body?.note ?? null },
        });
        o.events.emit({
          type: 'alert',
          alert: {
            alertKey,
            kind: alert.kind,
            severity: alert.severity,
            status: alert.status,
            patientKey: alert.patientKey,
            clinicId: alert.clinicId,
          },
        });
        return alert;
      },
    );
  }
}
