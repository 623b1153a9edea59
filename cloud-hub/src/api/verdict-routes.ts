import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { scopeFilter } from '../auth/clinic-scope.js';
import type { StateStore } from '../state/state-store.js';
import { parseOutcomesCsv } from '../verdicts/outcome-csv.js';
import { computePerformance, type PerformanceReport, type PerformanceRow } from '../verdicts/performance.js';
import type { VerdictAuthor, VerdictService } from '../verdicts/verdict-service.js';
import {
  ERROR_RESPONSES,
  Key,
  OpsAlertSchema,
  OutcomeImportSchema,
  PerformanceReportSchema,
  VerdictInputSchema,
  VerdictSchema,
} from './api-schemas.js';
import type { PatientAccess } from './patient-access.js';
import { actorOf, principalOf } from './request-auth.js';

const VerdictQuery = Type.Object({ patientKey: Key, studyKey: Type.Optional(Key) });
const HistoryQuery = Type.Object({
  subject: Type.String({ pattern: '^(finding|missed|assessment|outcome):[A-Za-z0-9_:-]{1,200}$' }),
});
const PerformanceQuery = Type.Object({
  from: Type.Optional(Type.String({ format: 'date-time', description: 'results created at or after' })),
  to: Type.Optional(Type.String({ format: 'date-time', description: 'results created before' })),
  modelName: Type.Optional(Key),
  minSamples: Type.Optional(Type.Integer({ minimum: 1, maximum: 10_000, description: 'fewest samples for a change to count' })),
});
/** The largest outcomes file the API takes (the CLI has no limit but the line count). */
const MAX_IMPORT_BYTES = 8 * 1024 * 1024;

export interface VerdictRouteOptions {
  state: StateStore;
  audit: AuditStore;
  verdicts: VerdictService;
  access: PatientAccess;
}

const CSV_HEADER = [
  'model_name',
  'model_version',
  'clinic_id',
  'device_id',
  'month',
  'confirmed',
  'dismissed',
  'uncertain',
  'unjudged',
  'ppv',
  'ppv_low',
  'ppv_high',
  'reviewed_studies',
  'studies_with_miss',
  'miss_rate',
  'miss_rate_low',
  'miss_rate_high',
  'assessed',
  'agreed',
  'agreement',
  'agreement_low',
  'agreement_high',
  'malignant',
  'detected',
  'sensitivity',
  'sensitivity_low',
  'sensitivity_high',
];

function csvCell(value: string | number | null): string {
  if (value === null) return '';
  const s = typeof value === 'number' ? String(Math.round(value * 10_000) / 10_000) : value;
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** One line per model version × clinic × device × month, with each figure's interval. */
export function performanceCsv(rows: readonly PerformanceRow[]): string {
  const lines = rows.map((r) =>
    [
      r.modelName,
      r.modelVersion,
      r.clinicId,
      r.deviceId,
      r.month,
      r.confirmed,
      r.dismissed,
      r.uncertain,
      r.unjudged,
      r.ppv.value,
      r.ppv.low,
      r.ppv.high,
      r.reviewedStudies,
      r.studiesWithMiss,
      r.missRate.value,
      r.missRate.low,
      r.missRate.high,
      r.assessed,
      r.agreed,
      r.agreement.value,
      r.agreement.low,
      r.agreement.high,
      r.malignant,
      r.detected,
      r.sensitivity.value,
      r.sensitivity.low,
      r.sensitivity.high,
    ]
      .map(csvCell)
      .join(','),
  );
  return `${[CSV_HEADER.join(','), ...lines].join('\n')}\n`;
}

/** Clinicians' verdicts (record, amend, history), outcome imports, and the performance they measure. */
export async function verdictRoutes(app: FastifyInstance, o: VerdictRouteOptions): Promise<void> {
  app.addContentTypeParser('text/csv', { parseAs: 'string', bodyLimit: MAX_IMPORT_BYTES }, (_request, body, done) =>
    done(null, body),
  );

  const author = (request: FastifyRequest, source: VerdictAuthor['source']): VerdictAuthor => {
    const p = principalOf(request);
    return {
      username: p.username,
      role: p.role,
      ip: request.ip,
      source,
      clinics: p.clinics,
    };
  };
  // One outcomes import at a time on this replica: each is bounded and yields, but two at once
  // would double the work the loop shares with everything else.
  let importing = false;

  app.post<{ Body: Static<typeof VerdictInputSchema> }>(
    '/verdicts',
    {
      config: { permission: 'verdicts:write' },
      schema: {
        tags: ['clinical'],
        summary:
          'Record or amend a verdict: a finding confirmed, dismissed (with a reason) or uncertain; a missed finding; a study’s BI-RADS assessment; an outcome',
        body: VerdictInputSchema,
        response: { 201: VerdictSchema, ...ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const source = principalOf(request).via === 'session' ? 'dashboard' : 'api';
      const [stored] = await o.verdicts.record([request.body], author(request, source));
      return reply.code(201).send(stored);
    },
  );

  app.get<{ Querystring: Static<typeof VerdictQuery> }>(
    '/verdicts',
    {
      config: { permission: 'verdicts:read' },
      schema: {
        tags: ['clinical'],
        summary: "The current verdicts on a patient's findings and studies (optionally one study)",
        querystring: VerdictQuery,
        response: { 200: Type.Object({ items: Type.Array(VerdictSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { patientKey, studyKey } = request.query;
      await o.access.require(request, patientKey, `patient ${patientKey}`);
      const items = await o.state.verdicts.current({ patientKey, ...(studyKey ? { studyKey } : {}) });
      await o.audit.append({
        ...actorOf(request),
        action: 'verdict.list',
        targetType: 'patient',
        targetId: patientKey,
        patientKey,
        outcome: 'success',
        details: { studyKey: studyKey ?? null, returned: items.length },
      });
      return { items };
    },
  );

  app.get<{ Querystring: Static<typeof HistoryQuery> }>(
    '/verdicts/history',
    {
      config: { permission: 'verdicts:read' },
      schema: {
        tags: ['clinical'],
        summary: 'Every verdict ever given on one subject, oldest first (amendments keep their history)',
        querystring: HistoryQuery,
        response: { 200: Type.Object({ items: Type.Array(VerdictSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const items = await o.state.verdicts.history(request.query.subject);
      const first = items[0];
      // The same answer as for another clinic's subject (requireRecord): nothing tells them apart.
      if (!first) throw new VigilError('VIGIL_API_NOT_FOUND', `verdicts on ${request.query.subject} does not exist`);
      await o.access.requireRecord(request, first.clinicId, first.patientKey, `verdicts on ${request.query.subject}`);
      return { items };
    },
  );

  app.post<{ Body: string }>(
    '/outcomes/import',
    {
      config: { permission: 'verdicts:write' },
      schema: {
        tags: ['clinical'],
        summary:
          'Import outcomes and assessments from another system as text/csv (patient_key,study_key,outcome,laterality,outcome_date,birads); all lines or none',
        consumes: ['text/csv'],
        response: { 200: OutcomeImportSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      if (typeof request.body !== 'string') {
        throw new VigilError('VIGIL_API_INVALID_REQUEST', 'send the outcomes file as text/csv');
      }
      if (importing)
        throw new VigilError('VIGIL_IMPORT_BUSY', 'another outcomes import is running; try again when it has finished');
      importing = true;
      let parsed: Awaited<ReturnType<typeof parseOutcomesCsv>>;
      let stored: Awaited<ReturnType<typeof o.verdicts.importLines>>;
      try {
        parsed = await parseOutcomesCsv(request.body);
        stored = await o.verdicts.importLines(parsed, author(request, 'import'));
      } finally {
        importing = false;
      }
      await o.audit.append({
        ...actorOf(request),
        action: 'outcomes.import',
        targetType: 'verdict',
        targetId: '*',
        outcome: 'success',
        details: { lines: parsed.lines.length, verdicts: stored.length },
      });
      return { imported: stored.length, lines: parsed.lines.length };
    },
  );

  const report = async (
    request: FastifyRequest<{ Querystring: Static<typeof PerformanceQuery> }>,
  ): Promise<PerformanceReport> => {
    const q = request.query;
    const facts = await o.state.verdicts.reviewFacts({
      ...(q.from ? { from: q.from } : {}),
      ...(q.to ? { to: q.to } : {}),
      ...scopeFilter(principalOf(request).clinics),
    });
    if (q.modelName) facts.results = facts.results.filter((r) => r.model.name === q.modelName);
    return computePerformance(facts, q.minSamples ? { minSamples: q.minSamples } : {});
  };

  app.get<{ Querystring: Static<typeof PerformanceQuery> }>(
    '/performance',
    {
      config: { permission: 'performance:read' },
      schema: {
        tags: ['performance'],
        summary:
          'Real-world performance per model version × clinic × device × month from clinicians’ verdicts: PPV, miss rate, agreement, sensitivity, calibration, each with a 95 % Wilson interval',
        querystring: PerformanceQuery,
        response: { 200: PerformanceReportSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => report(request),
  );

  app.get<{ Querystring: { open?: boolean; limit: number } }>(
    '/ops-alerts',
    {
      config: { permission: 'performance:read' },
      schema: {
        tags: ['performance'],
        summary: 'Ops alerts: changes in real-world model performance the intervals say are real, newest first',
        querystring: Type.Object({
          open: Type.Optional(Type.Boolean({ description: 'only alerts nobody acknowledged' })),
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 100 }),
        }),
        response: { 200: Type.Object({ items: Type.Array(OpsAlertSchema) }), ...ERROR_RESPONSES },
      },
    },
    async (request) => ({
      items: await o.state.opsAlerts.list({
        limit: request.query.limit,
        ...(request.query.open ? { open: true } : {}),
        ...scopeFilter(principalOf(request).clinics),
      }),
    }),
  );

  app.post<{ Params: { alertKey: string } }>(
    '/ops-alerts/:alertKey/acknowledge',
    {
      config: { permission: 'ops-alerts:write' },
      schema: {
        tags: ['performance'],
        summary: 'Acknowledge an ops alert (who and when are kept)',
        params: Type.Object({ alertKey: Type.String({ maxLength: 400 }) }),
        response: { 200: OpsAlertSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { clinics, username } = principalOf(request);
      const before = await o.state.opsAlerts.get(request.params.alertKey);
      if (!before || (clinics !== null && (before.clinicId === null || !clinics.includes(before.clinicId)))) {
        throw new VigilError('VIGIL_API_NOT_FOUND', `ops alert ${request.params.alertKey} does not exist`);
      }
      const alert = await o.state.opsAlerts.acknowledge(before.alertKey, username);
      await o.audit.append({
        ...actorOf(request),
        action: 'ops-alert.acknowledge',
        targetType: 'ops-alert',
        targetId: alert.alertKey.slice(0, 200),
        outcome: 'success',
      });
      return alert;
    },
  );

  app.get<{ Querystring: Static<typeof PerformanceQuery> }>(
    '/performance.csv',
    {
      config: { permission: 'performance:read' },
      schema: {
        tags: ['performance'],
        summary: 'The performance rows as CSV (one line per model version × clinic × device × month)',
        querystring: PerformanceQuery,
        produces: ['text/csv'],
      },
    },
    async (request, reply) => {
      const { rows } = await report(request);
      await o.audit.append({
        ...actorOf(request),
        action: 'performance.export',
        targetType: 'performance',
        targetId: '*',
        outcome: 'success',
        details: { rows: rows.length, clinics: principalOf(request).clinics },
      });
      return reply
        .header('content-type', 'text/csv; charset=utf-8')
        .header('content-disposition', 'attachment; filename="vigil-performance.csv"')
        .send(performanceCsv(rows));
    },
  );
}
