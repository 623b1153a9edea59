import { dimseSender } from './dimse-sender.js';
import type { PacsDestination, PacsSender } from './pacs-sender.js';
import type { SendOutcome } from './send-outcome.js';
import { stowSender } from './stow-sender.js';

/**
 * One sender per destination kind. A new kind is a module implementing PacsSender, its config shape
 * in `pacs.destinations` (config.ts), and an entry here.
 */
export const PACS_SENDERS: { [K in PacsDestination['kind']]: PacsSender<K> } = {
  dimse: dimseSender,
  stow: stowSender,
};

/** Sends one object to a destination with the sender for its kind. */
export function sendTo(dest: PacsDestination, p10: Buffer, sopClassUid: string): Promise<SendOutcome> {
  const sender = PACS_SENDERS[dest.kind] as PacsSender<PacsDestination['kind']>;
  return sender.send(dest as never, p10, sopClassUid);
}

export type { PacsDestination, PacsDestinationOf, PacsSender } from './pacs-sender.js';
export type { SendOutcome } from './send-outcome.js';
