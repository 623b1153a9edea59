import { type Static, Type } from '@sinclair/typebox';
import { ErrorReason, Id, MessageId, Timestamp } from './common.js';

export const RECEIPT_SCHEMA = 'vigil.receipt/1';

/**
 * The hub's end-to-end confirmation to one device (external-broker mode): the results it has
 * committed, published on the device's own `receipts` topic after the commit. The broker's PUBACK
 * only says the broker has a message; this says the hub stored it. `rejected` lists results the hub
 * dead-lettered (they will never be stored, so resending them is pointless).
 */
export const ReceiptMessage = Type.Object(
  {
    schema: Type.Literal(RECEIPT_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    issuedAt: Timestamp,
    committed: Type.Array(MessageId, { maxItems: 10_000 }),
    rejected: Type.Optional(
      Type.Array(Type.Object({ messageId: MessageId, reason: ErrorReason }, { additionalProperties: false }), {
        maxItems: 10_000,
      }),
    ),
  },
  { additionalProperties: false },
);
export type ReceiptMessage = Static<typeof ReceiptMessage>;
