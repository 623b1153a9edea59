import { type Static, Type } from '@sinclair/typebox';
import { Id, MessageId, ModelRef, Timestamp } from './common.js';

export const STATUS_SCHEMA = 'vigil.status/1';

/** Retained per device. The broker publishes the "offline" copy as the device's last will. */
export const StatusMessage = Type.Object(
  {
    schema: Type.Literal(STATUS_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    at: Timestamp,
    agentVersion: Type.String({ maxLength: 64 }),
    model: Type.Optional(ModelRef),
    inferenceProvider: Type.Optional(Type.String({ maxLength: 32 })),
    tags: Type.Optional(Type.Array(Type.String({ maxLength: 64 }), { maxItems: 32 })),
  },
  { additionalProperties: false },
);
export type StatusMessage = Static<typeof StatusMessage>;
