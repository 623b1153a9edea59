import {
  type DeviceAddress,
  newMessageId,
  parseTopic,
  RECEIPT_SCHEMA,
  type ReceiptMessage,
  type ResultMessage,
  type VigilError,
} from '@vigil/shared';

/** A result the hub dead-lettered, identified well enough to tell its device not to resend it. */
export interface RejectedResult extends DeviceAddress {
  messageId: string;
  reason: { code: string; message: string };
}

/** The most ids one receipt names (the schema's bound). */
export const RECEIPT_MAX_IDS = 10_000;
const MESSAGE_ID = /^[A-Za-z0-9_-]{8,64}$/;

/**
 * The result a dead-lettered payload claimed to be, when its topic is a device's results topic and
 * its JSON names a message id; undefined otherwise (then no device is waiting for it by that id).
 */
export function rejectedResult(topic: string, payload: Buffer, error: VigilError): RejectedResult | undefined {
  try {
    const parsed = parseTopic(topic);
    if (parsed.kind !== 'results') return undefined;
    const messageId = (JSON.parse(payload.toString('utf8')) as { messageId?: unknown }).messageId;
    if (typeof messageId !== 'string' || !MESSAGE_ID.test(messageId)) return undefined;
    return {
      clinicId: parsed.clinicId,
      deviceId: parsed.deviceId,
      messageId,
      reason: { code: error.code, message: error.message.slice(0, 2000) },
    };
  } catch {
    return undefined;
  }
}

/**
 * The receipts a committed batch owes its devices: per device, the ids of its results now stored
 * (new or already there: a resend is confirmed again) and of those dead-lettered. Pure.
 */
export function receiptsFor(
  results: readonly ResultMessage[],
  rejected: readonly RejectedResult[],
  now = new Date(),
): ReceiptMessage[] {
  const byDevice = new Map<string, { address: DeviceAddress; committed: string[]; rejected: RejectedResult[] }>();
  const entry = (a: DeviceAddress) => {
    const key = `${a.clinicId}/${a.deviceId}`;
    let e = byDevice.get(key);
    if (!e) {
      e = { address: { clinicId: a.clinicId, deviceId: a.deviceId }, committed: [], rejected: [] };
      byDevice.set(key, e);
    }
    return e;
  };
  for (const r of results) entry(r).committed.push(r.messageId);
  for (const r of rejected) entry(r).rejected.push(r);
  const receipts: ReceiptMessage[] = [];
  for (const { address, committed, rejected: refused } of byDevice.values()) {
    for (let i = 0; i < Math.max(committed.length, refused.length); i += RECEIPT_MAX_IDS) {
      const rejectedSlice = refused.slice(i, i + RECEIPT_MAX_IDS);
      receipts.push({
        schema: RECEIPT_SCHEMA,
        messageId: newMessageId(),
        ...address,
        issuedAt: now.toISOString(),
        committed: committed.slice(i, i + RECEIPT_MAX_IDS),
        ...(rejectedSlice.length > 0
          ? { rejected: rejectedSlice.map((r) => ({ messageId: r.messageId, reason: r.reason })) }
          : {}),
      });
    }
  }
  return receipts;
}
