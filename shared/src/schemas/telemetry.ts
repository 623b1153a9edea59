import { type Static, Type } from '@sinclair/typebox';
import { Id, MessageId, Timestamp } from './common.js';

export const TELEMETRY_SCHEMA = 'vigil.telemetry/1';

const Count = Type.Integer({ minimum: 0 });
const Bytes = Type.Number({ minimum: 0 });

export const GpuSample = Type.Object(
  {
    index: Count,
    name: Type.String({ maxLength: 128 }),
    utilizationPct: Type.Number({ minimum: 0, maximum: 100 }),
    memoryUsedBytes: Bytes,
    memoryTotalBytes: Bytes,
    temperatureC: Type.Optional(Type.Number()),
  },
  { additionalProperties: false },
);

/** A periodic sample of one device's health and pipeline counters. */
export const TelemetryMessage = Type.Object(
  {
    schema: Type.Literal(TELEMETRY_SCHEMA),
    messageId: MessageId,
    clinicId: Id,
    deviceId: Id,
    sampledAt: Timestamp,
    intervalS: Type.Number({ exclusiveMinimum: 0 }),
    cpu: Type.Object(
      {
        cores: Count,
        utilizationPct: Type.Number({ minimum: 0, maximum: 100 }),
        load1: Type.Number({ minimum: 0 }),
        processPct: Type.Number({ minimum: 0 }),
      },
      { additionalProperties: false },
    ),
    memory: Type.Object({ totalBytes: Bytes, availableBytes: Bytes, processRssBytes: Bytes }, { additionalProperties: false }),
    disk: Type.Object(
      { path: Type.String({ maxLength: 512 }), totalBytes: Bytes, freeBytes: Bytes },
      { additionalProperties: false },
    ),
    gpus: Type.Array(GpuSample, { maxItems: 16 }),
    pipeline: Type.Object(
      {
        received: Count,
        processed: Count,
        failed: Count,
        quarantined: Count,
        queueDepth: Count,
        inferenceProvider: Type.Optional(Type.String({ maxLength: 32 })),
        /** Why inference runs on the CPU, when it does (e.g. the CUDA provider is not installed). */
        inferenceCpuReason: Type.Optional(Type.String({ maxLength: 400 })),
        latencyP50Ms: Type.Optional(Type.Number({ minimum: 0 })),
        latencyP95Ms: Type.Optional(Type.Number({ minimum: 0 })),
      },
      { additionalProperties: false },
    ),
    outbox: Type.Object(
      {
        depth: Count,
        results: Count,
        telemetry: Count,
        bytes: Bytes,
        oldestAgeS: Type.Number({ minimum: 0 }),
        evictedTelemetry: Count,
      },
      { additionalProperties: false },
    ),
    /** Where clinicians' browsers reach this edge's re-identification endpoint (inside the clinic). */
    reid: Type.Optional(Type.Object({ url: Type.String({ maxLength: 300 }) }, { additionalProperties: false })),
    /** Results back to the clinic's PACS, per destination (no identity: counts and coded errors). */
    pacs: Type.Optional(
      Type.Array(
        Type.Object(
          {
            destination: Type.String({ maxLength: 64 }),
            state: Type.Union([Type.Literal('ok'), Type.Literal('retrying'), Type.Literal('failing')]),
            pending: Count,
            delivered: Count,
            failed: Count,
            lastError: Type.Union([
              Type.Object(
                {
                  code: Type.String({ maxLength: 64 }),
                  message: Type.String({ maxLength: 300 }),
                  at: Type.String({ maxLength: 40 }),
                },
                { additionalProperties: false },
              ),
              Type.Null(),
            ]),
            lastDeliveredAt: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
          },
          { additionalProperties: false },
        ),
        { maxItems: 16 },
      ),
    ),
  },
  { additionalProperties: false },
);
export type TelemetryMessage = Static<typeof TelemetryMessage>;
