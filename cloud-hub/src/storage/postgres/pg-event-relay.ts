import type pg from 'pg';
import type { EventRelay } from '../../events/event-relay.js';
import type { HubEvent } from '../../events/hub-events.js';
import type { PostgresLocation } from '../../state/state-store.js';
import { openPgPool } from './pg-state-store.js';

const CHANNEL = 'vigil_events';

/**
 * Hub events between replicas over PostgreSQL LISTEN/NOTIFY: no extra service, and every replica
 * already reaches the database. One connection listens (a LISTEN is per session, so it is held
 * outside the pool and re-established with backoff if it drops); notifications go out through the
 * pool. Each carries the sender's id, so a replica ignores its own.
 */
export class PgEventRelay implements EventRelay {
  private readonly pool: pg.Pool;
  private listener: pg.PoolClient | undefined;
  private closed = false;
  private retryMs = 250;
  private timer: NodeJS.Timeout | undefined;
  private onEvent: ((event: HubEvent) => void) | undefined;

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
        const { origin, event } = JSON.parse(message.payload) as { origin: string; event: HubEvent };
        if (origin !== this.origin) this.onEvent?.(event);
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

  async publish(event: HubEvent): Promise<void> {
    await this.pool.query('SELECT pg_notify($1, $2)', [CHANNEL, JSON.stringify({ origin: this.origin, event })]);
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
