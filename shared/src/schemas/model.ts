import { type Static, Type } from '@sinclair/typebox';
import { ErrorReason, Id, MessageId, ModelRef, Timestamp } from './common.js';

export const MODEL_DESIRED_SCHEMA = 'vigil.model-desired/1';
export const MODEL_REPORTED_SCHEMA = 'vigil.model-reported/1';

export const ModelPackageRef = Type.Object(
  {
    name: ModelRef.properties.name,
    version: ModelRef.properties.version,
    sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
    sizeBytes: Type.Integer({ minimum: 1 }),
    url: Type.String({ maxLength: 2048 }),
    signature: Type.String({ maxLength: 256 }),
    keyId: Type.String({ maxLength: 128 }),
  },
  { additionalProperties: false },
);

/** Retained, hub → edge: which model the device should run (and optionally shadow). */
export const ModelDesiredMessage = Type.Object(
  {
    schema: Type.Literal(MODEL_DESIRED_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    issuedAt: Timestamp,
    rolloutId: Type.Optional(Type.String({ maxLength: 64 })),
    active: ModelPackageRef,
    shadow: Type.Optional(ModelPackageRef),
  },
  { additionalProperties: false },
);
export type ModelDesiredMessage = Static<typeof ModelDesiredMessage>;

export const ModelState = Type.Union([
  Type.Literal('downloading'),
  Type.Literal('verifying'),
  Type.Literal('self-testing'),
  Type.Literal('active'),
  Type.Literal('shadow'),
  Type.Literal('failed'),
  Type.Literal('rolled-back'),
]);

/** Retained, edge → hub: what the device runs now and what happened to the last desired model. */
export const ModelReportedMessage = Type.Object(
  {
    schema: Type.Literal(MODEL_REPORTED_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    at: Timestamp,
    state: ModelState,
    model: ModelRef,
    active: Type.Optional(ModelRef),
    previous: Type.Optional(ModelRef),
    rolloutId: Type.Optional(Type.String({ maxLength: 64 })),
    reason: Type.Optional(ErrorReason),
  },
  { additionalProperties: false },
);
export type ModelReportedMessage = Static<typeof ModelReportedMessage>;
