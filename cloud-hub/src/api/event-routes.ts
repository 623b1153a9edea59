import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import { roleAllows } from '../auth/access-policy.js';
import { type ClinicAssignment, seesAny } from '../auth/clinic-scope.js';
import type { HubEvent, HubEvents } from '../events/hub-events.js';
import { principalOf } from './request-auth.js';

/** Which events a user may see on their live stream: by role, then by clinic scope. */
function visible(event: HubEvent, role: Parameters<typeof roleAllows>[0], clinics: ClinicAssignment): boolean {
  if (event.type === 'alert') return roleAllows(role, 'alerts:read') && seesAny(clinics, event.patientClinicIds);
  if (event.type === 'device') return roleAllows(role, 'devices:read') && seesAny(clinics, [event.clinicId]);
  if (event.type === 'results') return seesAny(clinics, event.clinicIds);
  if (event.type === 'ops-alert')
    return (
      roleAllows(role, 'performance:read') && (clinics === null || (event.clinicId !== null && clinics.includes(event.clinicId)))
    );
  if (event.type === 'rollout') return roleAllows(role, 'rollouts:read');
  return true;
}

/** Live streams one user may hold at once (a few browser tabs; each stream holds a connection). */
export const MAX_STREAMS_PER_USER = 8;

/** Server-sent events for the dashboard: alerts, result counts and device status, as they happen. */
export async function eventRoutes(
  app: FastifyInstance,
  o: { events: HubEvents; heartbeatMs?: number; maxStreamsPerUser?: number },
): Promise<void> {
  const open = new Map<string, number>();
  const max = o.maxStreamsPerUser ?? MAX_STREAMS_PER_USER;
  app.get(
    '/events',
    {
      config: { permission: 'events:read' },
      schema: { tags: ['live'], summary: 'Live updates as text/event-stream (alert, results, device events)' },
    },
    (request, reply) => {
      const { role, username, clinics } = principalOf(request);
      const streams = open.get(username) ?? 0;
      if (streams >= max) {
        throw new VigilError('VIGIL_API_RATE_LIMITED', `at most ${max} live streams per user; close another tab first`);
      }
      open.set(username, streams + 1);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-content-type-options': 'nosniff',
      });
      res.write('retry: 3000\n\n');
      const unsubscribe = o.events.subscribe((event) => {
        if (visible(event, role, clinics)) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
        const left = (open.get(username) ?? 1) - 1;
        if (left > 0) open.set(username, left);
        else open.delete(username);
      });
    },
  );
}
