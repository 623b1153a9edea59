import { createReadStream, statSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import { LabelsMessage, ModelRef, SemVer, VigilError } from '@vigil/shared';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditStore } from '../audit/audit-store.js';
import { seesAny } from '../auth/clinic-scope.js';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { ModelRegistry } from '../models/model-registry.js';
import type { RolloutController } from '../rollout/rollout-controller.js';
import { parseWaves } from '../rollout/rollout-planner.js';
import type { StateStore } from '../state/state-store.js';
import { deviceLabels } from '../verdicts/device-labels.js';
import {
  ERROR_RESPONSES,
  Key,
  ModelEntrySchema,
  PageOf,
  RolloutDetailSchema,
  RolloutSchema,
  RolloutStartedSchema,
} from './api-schemas.js';
import { requireDevice } from './device-auth.js';
import { actorOf, principalOf } from './request-auth.js';

const Version = SemVer;
const Name = ModelRef.properties.name;

const StartBody = Type.Object(
  {
    model: Type.Object({ name: Name, version: Version }),
    mode: Type.Optional(Type.Union([Type.Literal('active'), Type.Literal('shadow')])),
    cohort: Type.Optional(
      Type.Object({ clinics: Type.Optional(Type.Array(Key)), tags: Type.Optional(Type.Array(Type.String({ maxLength: 64 }))) }),
    ),
    waves: Type.Optional(
      Type.String({ pattern: '^\\s*\\d+(\\.\\d+)?%?(\\s*,\\s*\\d+(\\.\\d+)?%?)*\\s*$', description: 'e.g. "1,10%,50%,100%"' }),
    ),
    bakeS: Type.Optional(Type.Number({ minimum: 0, maximum: 30 * 86400 })),
    gates: Type.Optional(
      Type.Object(
        {
          maxInstallFailures: Type.Optional(Type.Integer({ minimum: 0 })),
          maxErrorRate: Type.Optional(Type.Number({ minimum: 0, maximum: 1 })),
          maxP95LatencyMs: Type.Optional(Type.Number({ minimum: 0 })),
          maxPsi: Type.Optional(Type.Number({ minimum: 0 })),
          minSamples: Type.Optional(Type.Integer({ minimum: 0 })),
          minVerdicts: Type.Optional(
            Type.Integer({ minimum: 0, description: 'shadow mode: reviewed images before the verdict-agreement gate passes' }),
          ),
        },
        { additionalProperties: false },
      ),
    ),
    onTrip: Type.Optional(Type.Union([Type.Literal('pause'), Type.Literal('rollback')])),
  },
  { additionalProperties: false },
);

export interface ModelRouteOptions {
  state: StateStore;
  registry: ModelRegistry;
  rollouts: RolloutController;
  devices: DeviceRegistry;
  audit: AuditStore;
}

/** Model registry, package downloads for devices, and rollouts (role ops). */
export async function modelRoutes(app: FastifyInstance, o: ModelRouteOptions): Promise<void> {
  app.get(
    '/models',
    {
      config: { permission: 'models:read' },
      schema: {
        tags: ['fleet'],
        summary: 'Published model packages, with the devices running each version',
        response: {
          200: PageOf(ModelEntrySchema),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      // A clinic-scoped user counts and names only their clinics' devices.
      const { clinics } = principalOf(request);
      const byKey = new Map<string, { name: string; version: string; deviceIds: string[] } & Record<string, unknown>>();
      for (const p of await o.state.rollouts.listPackages()) {
        byKey.set(`${p.name}@${p.version}`, { ...p, published: true, deviceIds: [] });
      }
      for (const d of await o.state.listDeviceStates()) {
        if (!d.model || !seesAny(clinics, [d.clinicId])) continue;
        const key = `${d.model.name}@${d.model.version}`;
        const entry = byKey.get(key) ?? {
          ...d.model,
          sha256: null,
          sizeBytes: null,
          keyId: null,
          publishedAt: null,
          published: false,
          deviceIds: [],
        };
        entry.deviceIds.push(d.deviceId);
        byKey.set(key, entry);
      }
      return { items: [...byKey.values()].map((m) => ({ ...m, devices: m.deviceIds.length })), next: null };
    },
  );

  /** The device calling with its own credentials (HTTP Basic: device id + device password). */
  const device = (request: FastifyRequest, reply: FastifyReply) => requireDevice(request, reply, o.devices);

  // Clinicians' verdicts on this device's own results, as training labels (keyed by the edge's own
  // pseudonymous instance keys; no image, no identity). A device gets its own labels only.
  app.get(
    '/device/labels',
    {
      config: { public: true },
      schema: {
        tags: ['devices'],
        summary: "Training labels from clinicians' verdicts on the calling device's own results (device credentials)",
        response: { 200: LabelsMessage, 401: Type.Ref('ErrorBody') },
      },
    },
    async (request, reply) => {
      const d = await device(request, reply);
      const labels = deviceLabels(d.deviceId, await o.state.verdicts.deviceFacts(d.deviceId));
      await o.audit.append({
        actor: `device:${d.deviceId}`,
        actorRole: 'device',
        action: 'labels.read',
        targetType: 'device',
        targetId: d.deviceId,
        outcome: 'success',
        details: { images: labels.images.length },
        ip: request.ip,
      });
      return labels;
    },
  );

  // Devices download packages with their own credentials (HTTP Basic: device id + device password);
  // Range requests let an interrupted download resume.
  app.get<{ Params: { name: string; version: string } }>(
    '/packages/:name/:version',
    {
      config: { public: true },
      schema: {
        tags: ['devices'],
        summary: 'Download a model package (device credentials; supports Range)',
        params: Type.Object({ name: Name, version: Version }),
      },
    },
    async (request, reply) => {
      await device(request, reply);
      const record = await o.registry.require(request.params.name, request.params.version);
      const path = o.registry.path(record);
      const size = statSync(path).size;
      reply.header('accept-ranges', 'bytes').header('content-type', 'application/gzip').header('etag', `"${record.sha256}"`);
      const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        if (start >= size) return reply.code(416).header('content-range', `bytes */${size}`).send();
        reply
          .code(206)
          .header('content-range', `bytes ${start}-${size - 1}/${size}`)
          .header('content-length', size - start);
        return reply.send(createReadStream(path, { start }));
      }
      reply.header('content-length', size);
      return reply.send(createReadStream(path));
    },
  );

  app.get(
    '/rollouts',
    {
      config: { permission: 'rollouts:read' },
      schema: {
        tags: ['fleet'],
        summary: 'Rollouts, newest first',
        response: { 200: PageOf(RolloutSchema), ...ERROR_RESPONSES },
      },
    },
    async () => ({ items: await o.state.rollouts.listRollouts(100), next: null }),
  );

  app.get<{ Params: { rolloutId: string } }>(
    '/rollouts/:rolloutId',
    {
      config: { permission: 'rollouts:read' },
      schema: {
        tags: ['fleet'],
        summary: "A rollout with its waves' devices and gate figures",
        params: Type.Object({ rolloutId: Key }),
        response: { 200: RolloutDetailSchema, ...ERROR_RESPONSES },
      },
    },
    async (request) => {
      const rollout = await o.state.rollouts.getRollout(request.params.rolloutId);
      if (!rollout) throw new VigilError('VIGIL_API_NOT_FOUND', `rollout ${request.params.rolloutId} does not exist`);
      const { clinics } = principalOf(request);
      const devices = await o.state.rollouts.rolloutDevices(rollout.rolloutId);
      return { rollout, devices: devices.filter((d) => seesAny(clinics, [d.clinicId])) };
    },
  );

  app.post<{ Body: Static<typeof StartBody> }>(
    '/rollouts',
    {
      config: { permission: 'rollouts:write', network: true },
      schema: {
        tags: ['fleet'],
        summary: 'Start a rollout of a published model to a cohort, in waves with health gates',
        body: StartBody,
        response: {
          201: RolloutStartedSchema,
          409: Type.Ref('ErrorBody'),
          ...ERROR_RESPONSES,
        },
      },
    },
    async (request, reply) => {
      const b = request.body;
      const started = await o.rollouts.startRollout({
        model: b.model,
        actor: principalOf(request).username,
        ...(b.mode ? { mode: b.mode } : {}),
        ...(b.cohort ? { cohort: b.cohort } : {}),
        ...(b.waves ? { waves: parseWaves(b.waves) } : {}),
        ...(b.bakeS !== undefined ? { bakeS: b.bakeS } : {}),
        ...(b.gates ? { gates: b.gates } : {}),
        ...(b.onTrip ? { onTrip: b.onTrip } : {}),
      });
      await o.audit.append({
        ...actorOf(request),
        action: 'rollout.start',
        targetType: 'rollout',
        targetId: started.rollout.rolloutId,
        outcome: 'success',
        details: { model: b.model, mode: b.mode ?? 'active', devices: started.devices.length, waves: b.waves ?? 'default' },
      });
      return reply.code(201).send(started);
    },
  );

  for (const action of ['pause', 'resume', 'abort', 'rollback'] as const) {
    app.post<{ Params: { rolloutId: string } }>(
      `/rollouts/:rolloutId/${action}`,
      {
        config: { permission: 'rollouts:write', network: true },
        schema: {
          tags: ['fleet'],
          summary: `${action[0]?.toUpperCase()}${action.slice(1)} a rollout`,
          params: Type.Object({ rolloutId: Key }),
          response: { 200: RolloutSchema, 409: Type.Ref('ErrorBody'), ...ERROR_RESPONSES },
        },
      },
      async (request) => {
        const actor = principalOf(request).username;
        const rollout = await o.rollouts[action](request.params.rolloutId, actor);
        await o.audit.append({
          ...actorOf(request),
          action: `rollout.${action}`,
          targetType: 'rollout',
          targetId: rollout.rolloutId,
          outcome: 'success',
        });
        return rollout;
      },
    );
  }
}
