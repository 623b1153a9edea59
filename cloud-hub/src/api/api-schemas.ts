import { type TSchema, Type } from '@sinclair/typebox';

/** Every API error body: the catalogue code and a human message. */
export const ErrorBody = Type.Object(
  { error: Type.Object({ code: Type.String(), message: Type.String() }) },
  { $id: 'ErrorBody' },
);

export const ERROR_RESPONSES = {
  400: Type.Ref('ErrorBody'),
  401: Type.Ref('ErrorBody'),
  403: Type.Ref('ErrorBody'),
  404: Type.Ref('ErrorBody'),
  429: Type.Ref('ErrorBody'),
};

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) });
}

export const PageQuery = {
  limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
  cursor: Type.Optional(Type.String({ maxLength: 512 })),
};

export const Nullable = <T extends TSchema>(t: T) => Type.Union([t, Type.Null()]);

export const Key = Type.String({ pattern: '^[A-Za-z0-9_-]{1,128}$' });
export const IsoDate = Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' });
export const Laterality = Type.Union([Type.Literal('L'), Type.Literal('R'), Type.Literal('U')]);

export const FindingSchema = Type.Object({
  x: Type.Number(),
  y: Type.Number(),
  diameterMm: Type.Number(),
  areaMm2: Type.Number(),
  score: Type.Number(),
});

export const ResultSchema = Type.Object({
  messageId: Type.String(),
  clinicId: Type.String(),
  deviceId: Type.String(),
  createdAt: Type.String(),
  receivedAt: Type.String(),
  patientKey: Type.String(),
  studyKey: Type.String(),
  studyDate: Type.String(),
  laterality: Type.String(),
  view: Type.String(),
  modality: Type.String(),
  model: Type.Object({ name: Type.String(), version: Type.String() }),
  score: Type.Number(),
  findings: Type.Array(FindingSchema),
  image: Type.Object({
    rows: Type.Integer(),
    columns: Type.Integer(),
    pixelSpacingMm: Type.Number(),
    tissueFraction: Type.Optional(Type.Number()),
  }),
  timingsMs: Type.Object({ decode: Type.Number(), preprocess: Type.Number(), infer: Type.Number() }),
  shadow: Type.Optional(Type.Boolean()),
  overlayPng: Type.Optional(Type.String({ description: 'base64 PNG, only from edges that opted in' })),
});

export const AlertSchema = Type.Object({
  alertKey: Type.String(),
  kind: Type.String(),
  severity: Type.String(),
  status: Type.String(),
  patientKey: Type.String(),
  clinicId: Type.String({ description: 'the clinic whose evidence (result) raised the alert' }),
  deviceId: Nullable(Type.String({ description: 'the device whose result raised the alert' })),
  laterality: Nullable(Type.String()),
  view: Nullable(Type.String()),
  studyKey: Type.String(),
  studyDate: Type.String(),
  trackId: Nullable(Type.String()),
  reason: Type.String(),
  figures: Type.Record(Type.String(), Type.Number()),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  acknowledgedBy: Nullable(Type.String()),
  acknowledgedAt: Nullable(Type.String()),
  resolvedBy: Nullable(Type.String()),
  resolvedAt: Nullable(Type.String()),
  note: Nullable(Type.String()),
});

export const PatientSummarySchema = Type.Object({
  patientKey: Type.String(),
  clinicId: Type.String({ description: "the clinic of the patient's first study" }),
  clinicIds: Type.Array(Type.String(), { description: 'every clinic with a study in the timeline' }),
  firstStudyDate: Type.String(),
  lastStudyDate: Type.String(),
  lastStudyKey: Type.String(),
  studies: Type.Integer(),
  category: Type.Integer(),
  dueDate: Nullable(Type.String()),
  openAlerts: Type.Integer(),
  updatedAt: Type.String(),
});
