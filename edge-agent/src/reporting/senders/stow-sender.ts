import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PacsDestinationOf, PacsSender } from './pacs-sender.js';
import type { SendOutcome } from './send-outcome.js';

export interface StowDestination {
  url: string;
  timeoutMs: number;
  authorization?: string;
}

/** DICOMweb STOW-RS of one Part 10 object (its bytes): POST {url}/studies as multipart/related; type="application/dicom". */
export async function stowRs(dest: StowDestination, p10: Buffer): Promise<SendOutcome> {
  const boundary = `vigil-${randomUUID()}`;
  const body = Buffer.concat([
    Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`),
    p10,
    Buffer.from(`\r\n--${boundary}--\r\n`),
  ]);
  let response: Response;
  try {
    response = await fetch(`${dest.url.replace(/\/$/, '')}/studies`, {
      method: 'POST',
      headers: {
        'content-type': `multipart/related; type="application/dicom"; boundary=${boundary}`,
        accept: 'application/dicom+json',
        ...(dest.authorization ? { authorization: dest.authorization } : {}),
      },
      body,
      signal: AbortSignal.timeout(dest.timeoutMs),
    });
  } catch (error) {
    return { ok: false, kind: 'transient', code: 'VIGIL_PACS_UNREACHABLE', message: (error as Error).message };
  }
  const text = await response.text().catch(() => '');
  if (response.status >= 500 || response.status === 429)
    return { ok: false, kind: 'transient', code: 'VIGIL_PACS_UNREACHABLE', message: `STOW-RS answered HTTP ${response.status}` };
  if (response.status >= 400)
    return { ok: false, kind: 'refused', code: 'VIGIL_PACS_REFUSED', message: `STOW-RS answered HTTP ${response.status}` };
  // 200 (all stored) or 202 (some warnings): a Failed SOP Sequence (0008,1198) means this one was not.
  try {
    const json = text ? (JSON.parse(text) as Record<string, { Value?: unknown[] }>) : {};
    const failed = (json['00081198']?.Value ?? []) as Record<string, { Value?: unknown[] }>[];
    if (failed.length > 0) {
      // Only the Failure Reason (0008,1197): the rest of the item could name the instance.
      const reason = failed[0]?.['00081197']?.Value?.[0];
      return {
        ok: false,
        kind: 'refused',
        code: 'VIGIL_PACS_REFUSED',
        message: `STOW-RS refused the instance (failure reason ${String(reason ?? 'unknown')})`,
      };
    }
  } catch {
    // A body that is not JSON with a 2xx status: stored.
  }
  return { ok: true };
}

/** `kind: stow` destinations: DICOMweb STOW-RS, with a bearer token or basic credentials read from files. */
export const stowSender: PacsSender<'stow'> = {
  kind: 'stow',
  send(dest: PacsDestinationOf<'stow'>, p10) {
    const secret = (file: string) => readFileSync(file, 'utf8').trim();
    const authorization = dest.tokenFile
      ? `Bearer ${secret(dest.tokenFile)}`
      : dest.username
        ? `Basic ${Buffer.from(`${dest.username}:${dest.passwordFile ? secret(dest.passwordFile) : ''}`).toString('base64')}`
        : undefined;
    return stowRs({ url: dest.url, timeoutMs: dest.timeoutMs, ...(authorization ? { authorization } : {}) }, p10);
  },
};
