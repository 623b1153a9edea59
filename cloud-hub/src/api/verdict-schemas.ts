// API schemas of verdicts and real-world performance (re-exported by api-schemas.ts).
import { Type } from '@sinclair/typebox';
import { IsoDate, Nullable } from './api-common-schemas.js';

// ── Verdicts and real-world performance ─────────────────────────────────────────────────────────

export const FindingVerdictSchema = Type.Union([Type.Literal('confirmed'), Type.Literal('dismissed'), Type.Literal('uncertain')]);
export const DismissReasonSchema = Type.Union([
  Type.Literal('benign'),
  Type.Literal('artefact'),
  Type.Literal('not-seen'),
  Type.Literal('duplicate'),
]);
export const OutcomeSchema = Type.Union([Type.Literal('malignant'), Type.Literal('benign'), Type.Literal('stable')]);
export const VerdictKindSchema = Type.Union([
  Type.Literal('finding'),
  Type.Literal('missed'),
  Type.Literal('assessment'),
  Type.Literal('outcome'),
]);
export const VerdictSourceSchema = Type.Union([Type.Literal('dashboard'), Type.Literal('api'), Type.Literal('import')]);
const Note = Type.String({ maxLength: 2000 });
const PseudonymKey = Type.String({ pattern: '^[0-9a-f]{32}$' });
const ResultId = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });
const Unit = Type.Number({ minimum: 0, maximum: 1 });

/** What a clinician sends: one verdict, its kind deciding the rest. */
export const VerdictInputSchema = Type.Union([
  Type.Object(
    {
      kind: Type.Literal('finding'),
      resultId: ResultId,
      findingIndex: Type.Integer({ minimum: 0, maximum: 99 }),
      verdict: FindingVerdictSchema,
      reason: Type.Optional(DismissReasonSchema),
      note: Type.Optional(Note),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('missed'),
      resultId: ResultId,
      x: Unit,
      y: Unit,
      diameterMm: Type.Number({ exclusiveMinimum: 0, maximum: 500 }),
      missedId: Type.Optional(Type.String({ format: 'uuid' })),
      withdrawn: Type.Optional(Type.Boolean()),
      note: Type.Optional(Note),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('assessment'),
      patientKey: PseudonymKey,
      studyKey: PseudonymKey,
      birads: Type.Integer({ minimum: 0, maximum: 6 }),
    },
    { additionalProperties: false },
  ),
  Type.Object(
    {
      kind: Type.Literal('outcome'),
      patientKey: PseudonymKey,
      studyKey: PseudonymKey,
      outcome: OutcomeSchema,
      laterality: Type.Optional(Type.Union([Type.Literal('L'), Type.Literal('R')])),
      date: Type.Optional(IsoDate),
    },
    { additionalProperties: false },
  ),
]);

export const VerdictSchema = Type.Object({
  verdictId: Type.String(),
  subject: Type.String(),
  kind: VerdictKindSchema,
  patientKey: Type.String(),
  studyKey: Type.String(),
  clinicId: Type.String(),
  resultId: Nullable(Type.String()),
  findingIndex: Nullable(Type.Integer()),
  value: Type.Union([
    Type.Object({
      verdict: FindingVerdictSchema,
      reason: Type.Optional(DismissReasonSchema),
      note: Type.Optional(Type.String()),
    }),
    Type.Object({
      resultId: Type.String(),
      x: Type.Number(),
      y: Type.Number(),
      diameterMm: Type.Number(),
      withdrawn: Type.Optional(Type.Boolean()),
      note: Type.Optional(Type.String()),
    }),
    Type.Object({ birads: Type.Integer() }),
    Type.Object({
      outcome: OutcomeSchema,
      laterality: Type.Optional(Type.Union([Type.Literal('L'), Type.Literal('R')])),
      date: Type.Optional(Type.String()),
    }),
  ]),
  author: Type.String(),
  source: VerdictSourceSchema,
  createdAt: Type.String(),
  supersedes: Nullable(Type.String()),
});

export const OutcomeImportSchema = Type.Object({
  /** Verdicts stored (a line with an outcome and a BI-RADS gives two). */
  imported: Type.Integer(),
  lines: Type.Integer(),
});

export const ProportionSchema = Type.Object({
  k: Type.Integer(),
  n: Type.Integer(),
  value: Nullable(Type.Number()),
  low: Nullable(Type.Number()),
  high: Nullable(Type.Number()),
});

export const PerformanceRowSchema = Type.Object({
  modelName: Type.String(),
  modelVersion: Type.String(),
  clinicId: Nullable(Type.String()),
  deviceId: Nullable(Type.String()),
  month: Nullable(Type.String()),
  confirmed: Type.Integer(),
  dismissed: Type.Integer(),
  uncertain: Type.Integer(),
  unjudged: Type.Integer(),
  reviewedStudies: Type.Integer(),
  studiesWithMiss: Type.Integer(),
  assessed: Type.Integer(),
  agreed: Type.Integer(),
  malignant: Type.Integer(),
  detected: Type.Integer(),
  ppv: ProportionSchema,
  missRate: ProportionSchema,
  agreement: ProportionSchema,
  sensitivity: ProportionSchema,
});

export const PerformanceMetricSchema = Type.Union([
  Type.Literal('ppv'),
  Type.Literal('missRate'),
  Type.Literal('agreement'),
  Type.Literal('sensitivity'),
]);

export const PerformanceReportSchema = Type.Object({
  rows: Type.Array(PerformanceRowSchema),
  byClinic: Type.Array(PerformanceRowSchema),
  byMonth: Type.Array(PerformanceRowSchema),
  byVersion: Type.Array(PerformanceRowSchema),
  calibration: Type.Array(
    Type.Object({
      modelName: Type.String(),
      modelVersion: Type.String(),
      bins: Type.Array(
        Type.Object({ from: Type.Number(), to: Type.Number(), meanScore: Nullable(Type.Number()), confirmed: ProportionSchema }),
      ),
    }),
  ),
  changes: Type.Array(
    Type.Object({
      metric: PerformanceMetricSchema,
      between: Type.Union([Type.Literal('versions'), Type.Literal('months')]),
      modelName: Type.String(),
      clinicId: Nullable(Type.String()),
      from: Type.Intersect([Type.Object({ label: Type.String() }), ProportionSchema]),
      to: Type.Intersect([Type.Object({ label: Type.String() }), ProportionSchema]),
      direction: Type.Union([Type.Literal('better'), Type.Literal('worse')]),
    }),
  ),
});
