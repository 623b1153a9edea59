import { readFileSync } from 'node:fs';
import dcmjsDimse from 'dcmjs-dimse';
import type { PacsDestinationOf, PacsSender } from './pacs-sender.js';
import type { SendOutcome } from './send-outcome.js';

const { Client, constants, Dataset, requests } = dcmjsDimse;

/**
 * A Part 10 file's bytes as a dcmjs-dimse dataset. The objects are kept sealed on disk and opened in
 * memory, so the request is built from bytes, not a path: `Dataset._fromP10Buffer` is what
 * `Dataset.fromFile` runs on the file's bytes (not in its typings).
 */
function datasetOfP10(p10: Buffer): InstanceType<typeof Dataset> {
  return (Dataset as unknown as { _fromP10Buffer(b: Buffer): InstanceType<typeof Dataset> })._fromP10Buffer(p10);
}

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

/** `kind: dimse` destinations: C-STORE, with DICOM TLS material read from the configured files. */
export const dimseSender: PacsSender<'dimse'> = {
  kind: 'dimse',
  send(dest: PacsDestinationOf<'dimse'>, p10, sopClassUid) {
    const read = (file: string) => (file ? readFileSync(file) : undefined);
    return cStore(
      {
        host: dest.host,
        port: dest.port,
        calledAeTitle: dest.calledAeTitle,
        callingAeTitle: dest.callingAeTitle,
        timeoutMs: dest.timeoutMs,
        ...(dest.tls.enabled
          ? {
              tls: {
                ...(dest.tls.caFile ? { ca: read(dest.tls.caFile) } : {}),
                ...(dest.tls.certFile ? { cert: read(dest.tls.certFile) } : {}),
                ...(dest.tls.keyFile ? { key: read(dest.tls.keyFile) } : {}),
              },
            }
          : {}),
      },
      p10,
      sopClassUid,
    );
  },
};
