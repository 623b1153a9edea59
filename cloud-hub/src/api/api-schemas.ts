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
  kind: Type.Union([Type.Literal('performance-change'), Type.Literal('cross-clinic-patient')]),
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
