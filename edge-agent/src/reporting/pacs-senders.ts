import { randomUUID } from 'node:crypto';
import dcmjsDimse from 'dcmjs-dimse';

const { Client, constants, Dataset, requests } = dcmjsDimse;

/**
 * A Part 10 file's bytes as a dcmjs-dimse dataset. The objects are kept sealed on disk and opened in
 * memory, so the request is built from bytes, not a path: `Dataset._fromP10Buffer` is what
 * `Dataset.fromFile` runs on the file's bytes (not in its typings).
 */
function datasetOfP10(p10: Buffer): InstanceType<typeof Dataset> {
  return (Dataset as unknown as { _fromP10Buffer(b: Buffer): InstanceType<typeof Dataset> })._fromP10Buffer(p10);
}

/**
 * One delivery attempt's outcome. `transient`: the destination could not be reached or was busy (try
 * again, however long it takes); `refused`: it answered and said no (a wrong AE title, a SOP class
 * it does not take, an HTTP 4xx), which repeats until someone fixes the configuration.
 */
export type SendOutcome = { ok: true } | { ok: false; kind: 'transient' | 'refused'; code: string; message: string };

export interface DimseDestination {
  host: string;
  port: number;
  calledAeTitle: string;
  callingAeTitle: string;
  timeoutMs: number;
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
}

/** C-STORE of one Part 10 object, given as its bytes (dcmjs-dimse, the same library as the edge's SCP). */
export function cStore(dest: DimseDestination, p10: Buffer, sopClassUid: string): Promise<SendOutcome> {
  return new Promise((resolve) => {
    const client = new Client();
    const request = new requests.CStoreRequest(datasetOfP10(p10));
    let status: number | undefined;
    let rejected: string | undefined;
    let contextRejected = false;
    let network: Error | undefined;
    request.on('response', (response: { getStatus(): number }) => {
      status = response.getStatus();
    });
    client.on('associationRejected', (reject: unknown) => {
      rejected = String(reject).replace(/\s+/g, ' ').trim();
    });
    client.on(
      'associationAccepted',
      (association: {
        getPresentationContexts(): { id: number }[];
        getPresentationContext(id: number): { getAbstractSyntaxUid(): string; getResult(): number };
      }) => {
        contextRejected = !association
          .getPresentationContexts()
          .some(
            (c) =>
              association.getPresentationContext(c.id).getAbstractSyntaxUid() === sopClassUid &&
              association.getPresentationContext(c.id).getResult() === constants.PresentationContextResult.Accept,
          );
      },
    );
    client.on('networkError', (error: Error) => {
      network = error;
    });
    client.on('closed', () => {
      if (rejected)
        resolve({ ok: false, kind: 'refused', code: 'VIGIL_PACS_REFUSED', message: `association rejected: ${rejected}` });
      else if (contextRejected)
        resolve({
          ok: false,
          kind: 'refused',
          code: 'VIGIL_PACS_REFUSED',
          message: `the SCP does not accept SOP class ${sopClassUid}`,
        });
      else if (status === undefined)
        resolve({
          ok: false,
          kind: 'transient',
          code: 'VIGIL_PACS_UNREACHABLE',
          message: network ? network.message : 'the association ended without a C-STORE response',
        });
      else if (status === 0 || (status & 0xf000) === 0xb000) resolve({ ok: true });
      else if ((status & 0xff00) === 0xa700)
        resolve({
          ok: false,
          kind: 'transient',
          code: 'VIGIL_PACS_UNREACHABLE',
          message: `C-STORE out of resources (0x${status.toString(16)})`,
        });
      else
        resolve({
          ok: false,
          kind: 'refused',
          code: 'VIGIL_PACS_REFUSED',
          message: `C-STORE failed with status 0x${status.toString(16)}`,
        });
    });
    client.addRequest(request);
    try {
      client.send(dest.host, dest.port, dest.callingAeTitle, dest.calledAeTitle, {
        connectTimeout: dest.timeoutMs,
        associationTimeout: dest.timeoutMs,
        pduTimeout: dest.timeoutMs,
        ...(dest.tls
          ? {
              securityOptions: {
                ...(dest.tls.ca ? { ca: dest.tls.ca } : {}),
                ...(dest.tls.cert ? { cert: dest.tls.cert } : {}),
                ...(dest.tls.key ? { key: dest.tls.key } : {}),
                rejectUnauthorized: true,
                minVersion: 'TLSv1.2',
              },
            }
          : {}),
      });
    } catch (error) {
      resolve({ ok: false, kind: 'transient', code: 'VIGIL_PACS_UNREACHABLE', message: (error as Error).message });
    }
  });
}

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
