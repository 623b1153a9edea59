import { type Static, Type } from '@sinclair/typebox';
import { Id, MessageId, ModelRef, PseudonymKey, Timestamp } from './common.js';

export const RESULT_SCHEMA = 'vigil.result/1';

/** The longest base64 overlay a result may carry (keeps a result well under the hub's 256 KiB payload limit). */
export const OVERLAY_PNG_MAX_BASE64 = 180_000;

/** One finding: position normalised to the image (0..1), size from the image's pixel spacing. */
export const Finding = Type.Object(
  {
    x: Type.Number({ minimum: 0, maximum: 1 }),
    y: Type.Number({ minimum: 0, maximum: 1 }),
    diameterMm: Type.Number({ minimum: 0, maximum: 500 }),
    areaMm2: Type.Number({ minimum: 0, maximum: 250000 }),
    score: Type.Number({ minimum: 0, maximum: 1 }),
  },
  { additionalProperties: false },
);
export type Finding = Static<typeof Finding>;

/** One inference result for one de-identified image. No field may carry PHI. */
export const ResultMessage = Type.Object(
  {
    schema: Type.Literal(RESULT_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    createdAt: Timestamp,
    patientKey: PseudonymKey,
    studyKey: PseudonymKey,
    seriesKey: PseudonymKey,
    instanceKey: PseudonymKey,
    /** Kept under PS3.15's retain-longitudinal-temporal option: follow-up needs intervals. */
    studyDate: Type.String({ pattern: '^\\d{4}-\\d{2}-\\d{2}$' }),
    patientAgeYears: Type.Optional(Type.Integer({ minimum: 0, maximum: 130 })),
    modality: Type.String({ pattern: '^[A-Z]{2}$' }),
    laterality: Type.Union([Type.Literal('L'), Type.Literal('R'), Type.Literal('U')]),
    view: Type.String({ pattern: '^[A-Z]{1,8}$' }),
    model: ModelRef,
    score: Type.Number({ minimum: 0, maximum: 1 }),
    findings: Type.Array(Finding, { maxItems: 100 }),
    image: Type.Object(
      {
        rows: Type.Integer({ minimum: 1, maximum: 65535 }),
        columns: Type.Integer({ minimum: 1, maximum: 65535 }),
        pixelSpacingMm: Type.Number({ exclusiveMinimum: 0, maximum: 10 }),
        /** Share of the image that shows tissue (above background); follow-up ignores near-blank images. */
        tissueFraction: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
      },
      { additionalProperties: false },
    ),
    timingsMs: Type.Object(
      {
        decode: Type.Number({ minimum: 0 }),
        preprocess: Type.Number({ minimum: 0 }),
        infer: Type.Number({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    /** Low-resolution de-identified overlay (PNG, base64), only when the edge opted in to send it. */
    overlayPng: Type.Optional(Type.String({ maxLength: OVERLAY_PNG_MAX_BASE64, pattern: '^[A-Za-z0-9+/=]*$' })),
    /** Set when a candidate model ran in shadow mode: the result must never reach clinicians. */
    shadow: Type.Optional(Type.Boolean()),
  },
  { additionalProperties: false },
);
export type ResultMessage = Static<typeof ResultMessage>;
