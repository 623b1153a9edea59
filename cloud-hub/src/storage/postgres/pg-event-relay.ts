import type pg from 'pg';
import type { EventRelay } from '../../events/event-relay.js';
import type { HubEvent } from '../../events/hub-events.js';
import type { PostgresLocation } from '../../state/state-store.js';
import { openPgPool } from './pg-state-store.js';

const CHANNEL = 'vigil_events';
/** A notification's payload must stay under PostgreSQL's 8 000 bytes. */
const MAX_PAYLOAD_CHARS = 7000;

interface Queued {
  json: string;
  sent: () => void;
  failed: (error: Error) => void;
}

/**
 * Hub events between replicas over PostgreSQL LISTEN/NOTIFY: no extra service, and every replica
 * already reaches the database. One connection listens (a LISTEN is per session, so it is held
 * outside the pool and re-established with backoff if it drops); notifications go out through the
 * pool. Each carries the sender's id, so a replica ignores its own. Events raised while a
 * notification is on its way go out together in the next one (as many as fit its payload): one
 * notification per event was thousands of round trips a second at ingest (issue 30).
 */
export class PgEventRelay implements EventRelay {
  private readonly pool: pg.Pool;
  private listener: pg.PoolClient | undefined;
  private closed = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;
  private onEvent: ((event: HubEvent) => void) | undefined;
  private queue: Queued[] = [];
  private sending = false;

  constructor(
    location: PostgresLocation,
    private readonly origin: string,
    private readonly onError: (error: Error) => void = () => undefined,
  ) {
    // Two connections: the held LISTEN session and one for notifications.
    this.pool = openPgPool(location, 2);
  }

  async start(onEvent: (event: HubEvent) => void): Promise<void> {
    this.onEvent = onEvent;
    await this.listen();
  }

  private async listen(): Promise<void> {
    const client = await this.pool.connect();
    client.on('notification', (message) => {
      if (message.channel !== CHANNEL || !message.payload) return;
      try {
        // `event`: one event, as replicas before issue 30 send; `events`: several.
        const { origin, event, events } = JSON.parse(message.payload) as {
          origin: string;
          event?: HubEvent;
          events?: HubEvent[];
        };
        if (origin === this.origin) return;
        for (const e of events ?? (event ? [event] : [])) this.onEvent?.(e);
      } catch (error) {
        this.onError(error as Error);
      }
    });
    const lost = (error?: Error) => {
      if (this.listener !== client) return;
      this.listener = undefined;
      client.release(error ?? new Error('listener ended'));
      if (this.closed) return;
      if (error) this.onError(error);
      this.timer = setTimeout(() => {
        this.listen().then(
          () => {
            this.retryMs = 250;
          },
          (e: Error) => {
            this.onError(e);
            lost();
          },
        );
      }, this.retryMs);
      this.timer.unref();
      this.retryMs = Math.min(this.retryMs * 2, 10_000);
    };
    client.on('error', (error) => lost(error));
    client.on('end', () => lost());
    await client.query(`LISTEN ${CHANNEL}`);
    this.listener = client;
  }

  publish(event: HubEvent): Promise<void> {
    return new Promise((sent, failed) => {
      this.queue.push({ json: JSON.stringify(event), sent, failed });
      if (!this.sending) void this.drain();
    });
  }

  /** Sends what is queued, a notification at a time, each carrying as many events as fit. */
  private async drain(): Promise<void> {
    this.sending = true;
    try {
      while (this.queue.length > 0) {
        const batch: Queued[] = [];
        let chars = 0;
        for (const q of this.queue) {
          if (batch.length > 0 && chars + q.json.length > MAX_PAYLOAD_CHARS) break;
          batch.push(q);
          chars += q.json.length + 1;
        }
        this.queue = this.queue.slice(batch.length);
        const payload = `{"origin":${JSON.stringify(this.origin)},"events":[${batch.map((q) => q.json).join(',')}]}`;
        try {
          await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, payload]);
          for (const q of batch) q.sent();
        } catch (error) {
          for (const q of batch) q.failed(error as Error);
        }
      }
    } finally {
      this.sending = false;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    const client = this.listener;
    this.listener = undefined;
    client?.release();
    await this.pool.end();
  }
}
