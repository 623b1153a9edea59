import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import { roleAllows } from '../auth/access-policy.js';
import type { AuthService, Principal } from '../auth/auth-service.js';
import { type ClinicAssignment, seesAny } from '../auth/clinic-scope.js';
import type { HubEvent, HubEvents } from '../events/hub-events.js';
import { principalOf, SESSION_COOKIE } from './request-auth.js';

/** Which events a user may see on their live stream: by role, then by clinic scope. */
function visible(event: HubEvent, role: Parameters<typeof roleAllows>[0], clinics: ClinicAssignment): boolean {
  // An alert is seen where its evidence came from: the clinic whose result raised it.
  if (event.type === 'alert') return roleAllows(role, 'alerts:read') && seesAny(clinics, [event.alert.clinicId]);
  if (event.type === 'device') return roleAllows(role, 'devices:read') && seesAny(clinics, [event.clinicId]);
  if (event.type === 'results') return seesAny(clinics, event.clinicIds);
  if (event.type === 'ops-alert')
    return (
      roleAllows(role, 'performance:read') && (clinics === null || (event.clinicId !== null && clinics.includes(event.clinicId)))
    );
  if (event.type === 'rollout') return roleAllows(role, 'rollouts:read');
  if (event.type === 'cross-clinic') return roleAllows(role, 'performance:read') && clinics === null;
  return false;
}

/** Live streams one user may hold at once (a few browser tabs; each stream holds a connection). */
export const MAX_STREAMS_PER_USER = 8;
/** How often an open stream re-checks the credentials it was opened with. */
export const STREAM_RECHECK_MS = 2000;

/** Whether the caller the stream was opened for still holds the same rights. */
function sameRights(a: Principal, b: Principal | undefined): boolean {
  if (b?.stage !== 'full' || b.username !== a.username || b.role !== a.role) return false;
  if (a.clinics === null || b.clinics === null) return a.clinics === b.clinics;
  return a.clinics.length === b.clinics.length && a.clinics.every((c, k) => b.clinics?.[k] === c);
}

/** Server-sent events for the dashboard: alerts, result counts and device status, as they happen. */
export async function eventRoutes(
  app: FastifyInstance,
  o: { events: HubEvents; auth: AuthService; heartbeatMs?: number; recheckMs?: number; maxStreamsPerUser?: number },
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
      const principal = principalOf(request);
      const { role, username, clinics } = principal;
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
      // The stream lives only as long as the rights it was opened with: the session or token is
      // checked again every recheckMs, and before any event once that long has passed; logout,
      // expiry, a disabled user or a change of role or clinics ends it (the browser reconnects and
      // is authenticated afresh, or refused).
      const cookie = request.cookies[SESSION_COOKIE];
      const header = request.headers.authorization;
      const bearer = header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
      const recheckMs = o.recheckMs ?? STREAM_RECHECK_MS;
      let valid = true;
      let checkedAt = Date.now();
      let checking: Promise<void> | undefined;
      let ended = false;
      const end = (reason: string) => {
        if (ended) return;
        ended = true;
        valid = false;
        res.write(`event: end\ndata: ${JSON.stringify({ reason })}\n\n`);
        res.end();
      };
      const recheck = (): Promise<void> => {
        checking ??= o.auth
          .authenticate(cookie, bearer)
          .then(
            (now) => {
              checkedAt = Date.now();
              if (!sameRights(principal, now)) end('the session ended or its rights changed');
            },
            () => end('the session could not be checked'),
          )
          .finally(() => {
            checking = undefined;
          });
        return checking;
      };
      const unsubscribe = o.events.subscribe((event) => {
        if (!valid || !visible(event, role, clinics)) return;
        const write = () => {
          if (valid) res.write(`event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        };
        if (Date.now() - checkedAt < recheckMs) write();
        else void recheck().then(write);
      });
      const heartbeat = setInterval(() => res.write(': keep-alive\n\n'), o.heartbeatMs ?? 15_000);
      const rechecks = setInterval(() => void recheck(), recheckMs);
      request.raw.on('close', () => {
        valid = false;
        clearInterval(heartbeat);
        clearInterval(rechecks);
        unsubscribe();
        const left = (open.get(username) ?? 1) - 1;
        if (left > 0) open.set(username, left);
        else open.delete(username);
      });
    },
  );
}
