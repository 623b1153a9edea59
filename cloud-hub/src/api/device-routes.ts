import { type Static, Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { seesAny } from '../auth/clinic-scope.js';
import type { DeviceRecord, DeviceState } from '../broker/device-store.js';
import type { HistoryStore } from '../history/history-store.js';
import { decodeCursor, encodeCursor } from '../state/pagination.js';
import type { StateStore } from '../state/state-store.js';
import { DeviceSummarySchema, ERROR_RESPONSES, Key, PageOf, PageQuery, TelemetryPointSchema } from './api-schemas.js';
import { principalOf } from './request-auth.js';

/** A query's date-time as epoch ms, or a coded 400 (never NaN reaching the history store). */
function instant(value: string, name: string): number {
  const ms = Date.parse(value);
  if (!Number.isFinite(ms)) throw new VigilError('VIGIL_API_INVALID_REQUEST', `${name} is not a date-time`);
  return ms;
}

type DeviceSummary = Static<typeof DeviceSummarySchema>;

function summarise(state: DeviceState | undefined, record: DeviceRecord | undefined): DeviceSummary {
  const t = state?.lastTelemetry ?? null;
  const received = t?.pipeline.received ?? 0;
  const gpus = t?.gpus ?? [];
  return {
    clinicId: state?.clinicId ?? record?.clinicId ?? '',
    deviceId: state?.deviceId ?? record?.deviceId ?? '',
    tags: record?.tags ?? [],
    registered: record !== undefined,
    revoked: record?.revokedAt != null,
    status: state?.status ?? 'unknown',
    statusAt: state?.statusAt ?? null,
    lastSeenAt: state?.lastSeenAt ?? null,
    agentVersion: state?.agentVersion ?? null,
    model: state?.model ?? null,
    inferenceProvider: t?.pipeline.inferenceProvider ?? null,
    inferenceCpuReason: t?.pipeline.inferenceCpuReason ?? null,
    queueDepth: t?.pipeline.queueDepth ?? null,
    outboxDepth: t?.outbox.depth ?? null,
    outboxOldestAgeS: t?.outbox.oldestAgeS ?? null,
    processed: t?.pipeline.processed ?? null,
    failed: t?.pipeline.failed ?? null,
    quarantined: t?.pipeline.quarantined ?? null,
    errorRate: t ? (received > 0 ? (t.pipeline.failed + t.pipeline.quarantined) / received : 0) : null,
    cpuPct: t?.cpu.utilizationPct ?? null,
    memoryAvailableBytes: t?.memory.availableBytes ?? null,
    gpuUtilizationPct: gpus.length > 0 ? gpus.reduce((s, g) => s + g.utilizationPct, 0) / gpus.length : null,
    latencyP95Ms: t?.pipeline.latencyP95Ms ?? null,
    telemetryAt: t?.sampledAt ?? null,
    pacs: t?.pacs ?? [],
  };
}

const DeviceQuery = Type.Object({
  ...PageQuery,
  clinicId: Type.Optional(Key),
  status: Type.Optional(Type.Union([Type.Literal('online'), Type.Literal('offline'), Type.Literal('unknown')])),
});

const TelemetryQuery = Type.Object({
  deviceId: Key,
  field: Type.String({ pattern: '^[a-z0-9_]{1,64}$', default: 'cpu_utilization_pct' }),
  measurement: Type.Union([Type.Literal('device_telemetry'), Type.Literal('inference')], { default: 'device_telemetry' }),
  from: Type.Optional(Type.String({ format: 'date-time' })),
  to: Type.Optional(Type.String({ format: 'date-time' })),
  limit: Type.Integer({ minimum: 1, maximum: 10_000, default: 1000 }),
  cursor: Type.Optional(Type.String({ maxLength: 128 })),
});

export interface DeviceRouteOptions {
  state: StateStore;
  history: HistoryStore;
}

/** The fleet: devices and their health, telemetry series. */
export async function deviceRoutes(app: FastifyInstance, o: DeviceRouteOptions): Promise<void> {
  /** The fleet the caller may see: a clinic-scoped user sees their clinics' devices only. */
  async function fleet(request: FastifyRequest): Promise<DeviceSummary[]> {
    const { clinics } = principalOf(request);
    const [states, records] = await Promise.all([o.state.listDeviceStates(), o.state.listDevices()]);
    const byId = new Map(records.map((r) => [r.deviceId, r]));
    const seen = new Set<string>();
    const out = states.map((s) => {
      seen.add(s.deviceId);
      return summarise(s, byId.get(s.deviceId));
    });
    for (const r of records) if (!seen.has(r.deviceId)) out.push(summarise(undefined, r));
    return out.filter((d) => seesAny(clinics, [d.clinicId])).sort((a, b) => a.deviceId.localeCompare(b.deviceId));
  }

  app.get<{ Querystring: Static<typeof DeviceQuery> }>(
    '/devices',
    {
      config: { permission: 'devices:read' },
      schema: {
        tags: ['fleet'],
        summary: 'Devices with status, model, queue and outbox depth, error rate, CPU/GPU',
        querystring: DeviceQuery,
        response: { 200: PageOf(DeviceSummarySchema), ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const q = request.query;
      const after = decodeCursor(q.cursor, 1)?.[0] as string | undefined;
      const list = (await fleet(request)).filter(
        (d) =>
          (!q.clinicId || d.clinicId === q.clinicId) && (!q.status || d.status === q.status) && (!after || d.deviceId > after),
      );
      const items = list.slice(0, q.limit);
      const last = items[items.length - 1];
      return { items, next: list.length > q.limit && last ? encodeCursor([last.deviceId]) : null };
    },
  );

  app.get<{ Params: { deviceId: string } }>(
    '/devices/:deviceId',
    {
      config: { permission: 'devices:read' },
      schema: {
        tags: ['fleet'],
        summary: 'One device',
        params: Type.Object({ deviceId: Key }),
        response: { 200: DeviceSummarySchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const device = (await fleet(request)).find((d) => d.deviceId === request.params.deviceId);
      if (!device) throw new VigilError('VIGIL_API_NOT_FOUND', `device ${request.params.deviceId} is not known`);
      return device;
    },
  );

  app.get<{ Querystring: Static<typeof TelemetryQuery> }>(
    '/telemetry',
    {
      config: { permission: 'telemetry:read' },
      schema: {
        tags: ['fleet'],
        summary: "One field of a device's telemetry (or inference metrics) over time, oldest first",
        querystring: TelemetryQuery,
        response: {
          200: PageOf(TelemetryPointSchema),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const q = request.query;
      const { clinics } = principalOf(request);
      if (clinics !== null) {
        const device = await o.state.getDevice(q.deviceId);
        if (!device || !seesAny(clinics, [device.clinicId])) {
          throw new VigilError('VIGIL_API_NOT_FOUND', `device ${q.deviceId} is not known`);
        }
      }
      const after = decodeCursor(q.cursor, 1)?.[0];
      if (after !== undefined && !Number.isSafeInteger(after)) {
        throw new VigilError('VIGIL_API_INVALID_REQUEST', 'cursor is not one this API issued');
      }
      const fromMs = Math.max(
        after !== undefined ? (after as number) + 1 : 0,
        q.from ? instant(q.from, 'from') : Date.now() - 86_400_000,
      );
      const toMs = q.to ? instant(q.to, 'to') : Date.now() + 60_000;
      const samples = await o.history.query({
        measurement: q.measurement,
        field: q.field,
        tags: { device: q.deviceId },
        fromMs,
        toMs,
        limit: q.limit + 1,
      });
      const items = samples.slice(0, q.limit).map((s) => ({ t: new Date(s.timestampMs).toISOString(), value: s.value }));
      const last = samples[q.limit - 1];
      return { items, next: samples.length > q.limit && last ? encodeCursor([last.timestampMs]) : null };
    },
  );
}
