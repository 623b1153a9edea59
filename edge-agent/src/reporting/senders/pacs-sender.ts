import type { EdgeConfig } from '../../config.js';
import type { SendOutcome } from './send-outcome.js';

/** A configured PACS destination (`pacs.destinations[]`), one shape per kind. */
export type PacsDestination = EdgeConfig['pacs']['destinations'][number];
export type PacsDestinationOf<K extends PacsDestination['kind']> = Extract<PacsDestination, { kind: K }>;

/** Delivers one Part 10 object (its bytes) to a destination of one kind. */
export interface PacsSender<K extends PacsDestination['kind']> {
  kind: K;
  send(dest: PacsDestinationOf<K>, p10: Buffer, sopClassUid: string): Promise<SendOutcome>;
}
