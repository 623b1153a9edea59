import type { HubEvent } from './hub-events.js';

/**
 * Carries hub events between replicas, so a dashboard's live stream shows what happened on any of
 * them (a result ingested by one replica, an alert raised by another's follow-up worker).
 */
export interface EventRelay {
  /** Starts receiving other replicas' events. */
  start(onEvent: (event: HubEvent) => void): Promise<void>;
  /** Sends one of this replica's events to the others (best effort: live views, not records). */
  publish(event: HubEvent): Promise<void>;
  close(): Promise<void>;
}
