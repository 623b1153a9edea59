import type { FastifyInstance } from 'fastify';
import { roleAllows } from '../auth/access-policy.js';
import type { HubEvent, HubEvents } from '../events/hub-events.js';
import { principalOf } from './request-auth.js';

/** Which events a role may see on its live stream. */
function visible(event: HubEvent, role: Parameters<typeof roleAllows>[0]): boolean {
  if (event.type === 'alert') return roleAllows(role, 'alerts:read');
  if (event.type === 'device') return roleAllows(role, 'devices:read');
  if (event.type === 'rollout') return roleAllows(role, 'rollouts:read');
  return true;
}

/** Server-sent events for the dashboard: alerts, result counts and device status, as they happen. */
export async function eventRoutes(app: FastifyInstance, o: { events: HubEvents; heartbeatMs?: number }): Promise<void> {
  app.get(
    '/events',
    {
      config: { permission: 'events:read' },
      schema: { tags: ['live'], summary: 'Live updates as text/event-stream (alert, results, device events)' },
    },
    (request, reply) => {
      const role = principalOf(request).role;
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
        if (visible(event, role)) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
      request.raw.on('close', () => {
        clearInterval(heartbeat);
        unsubscribe();
      });
    },
  );
}
