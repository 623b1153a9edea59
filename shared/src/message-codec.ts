import { FormatRegistry, type Static, type TSchema } from '@sinclair/typebox';
import { type TypeCheck, TypeCompiler } from '@sinclair/typebox/compiler';
import { VigilError } from './errors.js';
import {
  ModelDesiredMessage,
  ModelReportedMessage,
  ReceiptMessage,
  ResultMessage,
  StatusMessage,
  TelemetryMessage,
} from './schemas/index.js';
import { type ParsedTopic, parseTopic, type TopicKind } from './topics.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;
if (!FormatRegistry.Has('date-time')) {
  FormatRegistry.Set('date-time', (value) => ISO_DATE_TIME.test(value) && !Number.isNaN(Date.parse(value)));
}

export const MESSAGE_SCHEMAS = {
  results: ResultMessage,
  telemetry: TelemetryMessage,
  status: StatusMessage,
  'model/desired': ModelDesiredMessage,
  'model/reported': ModelReportedMessage,
  receipts: ReceiptMessage,
} as const;

export type MessageFor<K extends TopicKind> = Static<(typeof MESSAGE_SCHEMAS)[K]>;

export type AnyMessage = { [K in TopicKind]: { kind: K; message: MessageFor<K> } }[TopicKind];

const compiled = new Map<TSchema, TypeCheck<TSchema>>();
function checkerFor<T extends TSchema>(schema: T): TypeCheck<T> {
  let checker = compiled.get(schema);
  if (!checker) {
    checker = TypeCompiler.Compile(schema);
    compiled.set(schema, checker);
  }
  return checker as TypeCheck<T>;
}

/** Validates a value against a schema, throwing VIGIL_PAYLOAD_SCHEMA naming the first bad field. */
export function assertSchema<T extends TSchema>(schema: T, value: unknown, what: string): Static<T> {
  const checker = checkerFor(schema);
  if (checker.Check(value)) return value;
  const problems = [...checker.Errors(value)].slice(0, 3).map((e) => `${e.path || '/'}: ${e.message}`);
  throw new VigilError('VIGIL_PAYLOAD_SCHEMA', `${what} is invalid: ${problems.join('; ')}`);
}

export interface DecodedMessage {
  topic: ParsedTopic;
  kind: TopicKind;
  message: AnyMessage['message'];
}

/**
 * The hub's boundary check for everything a device publishes: topic shape, size, JSON, schema,
 * and that the payload names the same clinic and device as the topic it arrived on.
 */
export function decodeMessage(topic: string, payload: Uint8Array, maxBytes: number): DecodedMessage {
  const parsed = parseTopic(topic);
  if (payload.byteLength > maxBytes) {
    throw new VigilError('VIGIL_PAYLOAD_OVERSIZED', `payload of ${payload.byteLength} bytes exceeds the ${maxBytes}-byte limit`);
  }
  let value: unknown;
  try {
    value = JSON.parse(UTF8.decode(payload));
  } catch (error) {
    throw new VigilError('VIGIL_PAYLOAD_NOT_JSON', `payload is not UTF-8 JSON: ${(error as Error).message}`);
  }
  const message = assertSchema(MESSAGE_SCHEMAS[parsed.kind], value, `${parsed.kind} message`) as AnyMessage['message'];
  if (message.clinicId !== parsed.clinicId || message.deviceId !== parsed.deviceId) {
    throw new VigilError(
      'VIGIL_PAYLOAD_IDENTITY_MISMATCH',
      `payload names ${message.clinicId}/${message.deviceId} but arrived on ${parsed.clinicId}/${parsed.deviceId}`,
    );
  }
  return { topic: parsed, kind: parsed.kind, message };
}

export function encodeMessage(message: object): Buffer {
  return Buffer.from(JSON.stringify(message));
}
