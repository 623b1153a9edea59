import { Type } from '@sinclair/typebox';
import { Nullable } from './api-common-schemas.js';
import { VerdictSchema } from './verdict-schemas.js';

export * from './api-common-schemas.js';
export * from './verdict-schemas.js';

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

export const AlertKindSchema = Type.Union([
  Type.Literal('growth'),
  Type.Literal('new-finding'),
  Type.Literal('resolved-finding'),
  Type.Literal('score-rise'),
  Type.Literal('category-upgrade'),
  Type.Literal('overdue'),
]);
export const AlertSeveritySchema = Type.Union([Type.Literal('info'), Type.Literal('warning'), Type.Literal('critical')]);
export const AlertStatusSchema = Type.Union([Type.Literal('open'), Type.Literal('acknowledged'), Type.Literal('resolved')]);
export const AlertSchema = Type.Object({
  alertKey: Type.String(),
  kind: AlertKindSchema,
  severity: AlertSeveritySchema,
  status: AlertStatusSchema,
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

export const AuditEntrySchema = Type.Object({
  seq: Type.Integer(),
  at: Type.String(),
  actor: Type.String(),
  actorRole: Type.String(),
  action: Type.String(),
  targetType: Type.String(),
  targetId: Type.String(),
  patientKey: Nullable(Type.String()),
  outcome: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  ip: Type.String(),
  prevHash: Type.String(),
  hash: Type.String(),
});

export const RoleSchema = Type.Union([Type.Literal('clinician'), Type.Literal('ops'), Type.Literal('admin')]);
export const MeSchema = Type.Object({
  username: Type.String(),
  displayName: Type.String(),
  role: RoleSchema,
  stage: Type.Union([Type.Literal('enrol'), Type.Literal('full')]),
  mfaEnrolmentRequired: Type.Boolean(),
  csrfToken: Nullable(Type.String()),
  /** The clinics the user may see; null: the whole network. */
  clinics: Nullable(Type.Array(Type.String())),
});

/** A user's clinic assignment: clinic ids, or null for the whole network. */
export const ClinicsSchema = Nullable(Type.Array(Type.String({ pattern: '^[A-Za-z0-9_-]{1,64}$' }), { maxItems: 500 }));

/** Results back to the clinic's PACS, per destination, as the device last reported. */
export const PacsDestinationSchema = Type.Object({
  destination: Type.String(),
  state: Type.Union([Type.Literal('ok'), Type.Literal('retrying'), Type.Literal('failing')]),
  pending: Type.Integer(),
  delivered: Type.Integer(),
  failed: Type.Integer(),
  lastError: Nullable(Type.Object({ code: Type.String(), message: Type.String(), at: Type.String() })),
  lastDeliveredAt: Nullable(Type.String()),
});

export const DeviceSummarySchema = Type.Object({
  clinicId: Type.String(),
  deviceId: Type.String(),
  tags: Type.Array(Type.String()),
  registered: Type.Boolean(),
  revoked: Type.Boolean(),
  status: Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')]),
  statusAt: Nullable(Type.String()),
  lastSeenAt: Nullable(Type.String()),
  agentVersion: Nullable(Type.String()),
  model: Nullable(Type.Object({ name: Type.String(), version: Type.String() })),
  inferenceProvider: Nullable(Type.String()),
  /** The device's own account of why it infers on the CPU (a claim, shown as such). */
  inferenceCpuReason: Nullable(Type.String()),
  queueDepth: Nullable(Type.Integer()),
  outboxDepth: Nullable(Type.Integer()),
  outboxOldestAgeS: Nullable(Type.Number()),
  processed: Nullable(Type.Integer()),
  failed: Nullable(Type.Integer()),
  quarantined: Nullable(Type.Integer()),
  /** (failed + quarantined) / received since the agent started. */
  errorRate: Nullable(Type.Number()),
  cpuPct: Nullable(Type.Number()),
  memoryAvailableBytes: Nullable(Type.Number()),
  gpuUtilizationPct: Nullable(Type.Number()),
  latencyP95Ms: Nullable(Type.Number()),
  telemetryAt: Nullable(Type.String()),
  /** Empty when the device sends no results to a PACS. */
  pacs: Type.Array(PacsDestinationSchema),
});

export const RolloutStateSchema = Type.Union([
  Type.Literal('running'),
  Type.Literal('paused'),
  Type.Literal('completed'),
  Type.Literal('aborted'),
  Type.Literal('rolling-back'),
  Type.Literal('rolled-back'),
]);
export const GateFigureSchema = Type.Object({
  gate: Type.Union([
    Type.Literal('install-failures'),
    Type.Literal('error-rate'),
    Type.Literal('p95-latency'),
    Type.Literal('score-drift'),
    Type.Literal('verdict-agreement'),
  ]),
  value: Nullable(Type.Number()),
  threshold: Type.Number(),
  status: Type.Union([Type.Literal('pass'), Type.Literal('fail'), Type.Literal('waiting')]),
  samples: Type.Integer(),
  /** What the figure means, when a number and its threshold do not say it (the verdict gate). */
  detail: Type.Optional(Type.String()),
});

export const RolloutSchema = Type.Object({
  rolloutId: Type.String(),
  model: Type.Object({ name: Type.String(), version: Type.String() }),
  mode: Type.Union([Type.Literal('active'), Type.Literal('shadow')]),
  spec: Type.Object({
    cohort: Type.Object({ clinics: Type.Array(Type.String()), tags: Type.Array(Type.String()) }),
    waves: Type.Array(Type.Object({ devices: Type.Optional(Type.Number()), percent: Type.Optional(Type.Number()) })),
    bakeS: Type.Number(),
    gates: Type.Record(Type.String(), Type.Number()),
    onTrip: Type.Union([Type.Literal('pause'), Type.Literal('rollback')]),
  }),
  state: RolloutStateSchema,
  currentWave: Type.Integer(),
  waveStartedAt: Nullable(Type.String()),
  reason: Nullable(Type.String()),
  gates: Type.Array(GateFigureSchema),
  createdBy: Type.String(),
  createdAt: Type.String(),
  updatedAt: Type.String(),
  finishedAt: Nullable(Type.String()),
});

export const RolloutDeviceSchema = Type.Object({
  deviceId: Type.String(),
  clinicId: Type.String(),
  wave: Type.Integer(),
  previous: Nullable(Type.Object({ name: Type.String(), version: Type.String() })),
  state: Type.Union([
    Type.Literal('pending'),
    Type.Literal('desired'),
    Type.Literal('installed'),
    Type.Literal('failed'),
    Type.Literal('rolling-back'),
    Type.Literal('rolled-back'),
  ]),
  reason: Nullable(Type.String()),
  updatedAt: Type.String(),
});

export const TrackPointSchema = Type.Object({
  resultId: Type.String(),
  findingIndex: Type.Integer(),
  studyKey: Type.String(),
  studyDate: Type.String(),
  x: Type.Number(),
  y: Type.Number(),
  diameterMm: Type.Number(),
  score: Type.Number(),
});

export const TimelineSchema = Type.Object({
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
  /** The current verdicts on the patient's findings and studies. */
  verdicts: Type.Array(VerdictSchema),
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
      tracks: Type.Array(Type.Object({ trackId: Type.String(), points: Type.Array(TrackPointSchema) })),
    }),
  ),
  alerts: Type.Array(AlertSchema),
});

export const ModelEntrySchema = Type.Object({
  name: Type.String(),
  version: Type.String(),
  sha256: Nullable(Type.String()),
  sizeBytes: Nullable(Type.Integer()),
  keyId: Nullable(Type.String()),
  publishedAt: Nullable(Type.String()),
  published: Type.Boolean(),
  devices: Type.Integer(),
  deviceIds: Type.Array(Type.String()),
});

export const RolloutDetailSchema = Type.Object({ rollout: RolloutSchema, devices: Type.Array(RolloutDeviceSchema) });

export const RolloutStartedSchema = Type.Object({
  rollout: RolloutSchema,
  devices: Type.Array(RolloutDeviceSchema),
  skipped: Type.Array(Type.String()),
});

export const AuditVerificationSchema = Type.Object({
  ok: Type.Boolean(),
  entries: Type.Integer(),
  firstBadSeq: Nullable(Type.Integer()),
});

export const TelemetryPointSchema = Type.Object({ t: Type.String(), value: Type.Number() });

export const TotpEnrolmentSchema = Type.Object({ secret: Type.String(), otpauthUri: Type.String(), qrSvg: Type.String() });

export const RecoveryCodesSchema = Type.Object({ recoveryCodes: Type.Array(Type.String()) });

export const OpsAlertSchema = Type.Object({
  alertKey: Type.String(),
  kind: Type.Union([Type.Literal('performance-change'), Type.Literal('cross-clinic-patient'), Type.Literal('gpu-unused')]),
  severity: Type.Union([Type.Literal('info'), Type.Literal('warning')]),
  clinicId: Nullable(Type.String()),
  summary: Type.String(),
  details: Type.Record(Type.String(), Type.Unknown()),
  createdAt: Type.String(),
  acknowledgedBy: Nullable(Type.String()),
  acknowledgedAt: Nullable(Type.String()),
});

/** A re-identification token and the edges (at the caller's clinics) that accept it. */
export const ReidTokenSchema = Type.Object({
  expiresAt: Type.String(),
  /** Each edge with the token only it accepts. */
  edges: Type.Array(Type.Object({ clinicId: Type.String(), deviceId: Type.String(), url: Type.String(), token: Type.String() })),
});
