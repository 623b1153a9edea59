// DEMO FIXTURE: a tiny PACS per clinic for the demo (no external services): a DICOM storage SCP on
// dcmjs-dimse that keeps the AI results SR and presentation states the clinic's edge sends, so the
// dashboard's device pages show deliveries. A real installation points the edge at its own PACS
// (pacs.destinations: C-STORE and/or STOW-RS; docs/operations.md).
import { mkdirSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import dcmjsDimse from 'dcmjs-dimse';

const { Scp, responses, constants } = dcmjsDimse;
const { CEchoResponse, CStoreResponse } = responses;
const { PresentationContextResult, SopClass, Status, TransferSyntax } = constants;

const ACCEPTED = new Set(['1.2.840.10008.5.1.4.1.1.88.34', '1.2.840.10008.5.1.4.1.1.11.1', SopClass.Verification]);

export interface DemoPacs {
  port: number;
  dir: string;
  received: () => number;
  close: () => void;
}

export async function startDemoPacs(dir: string, port: number, aeTitle = 'DEMO_PACS'): Promise<DemoPacs> {
  mkdirSync(dir, { recursive: true });
  let received = 0;
  class DemoScp extends Scp {
    // biome-ignore lint/suspicious/noExplicitAny: dcmjs-dimse's association type is untyped here
    override associationRequested(association: any): void {
      if (association.getCalledAeTitle().trim() !== aeTitle) {
        this.sendAssociationReject();
        return;
      }
      for (const { id } of association.getPresentationContexts()) {
        const context = association.getPresentationContext(id);
        if (!ACCEPTED.has(context.getAbstractSyntaxUid())) {
          context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
          continue;
        }
        const ts = context
          .getTransferSyntaxUids()
          .find((uid: string) => uid === TransferSyntax.ExplicitVRLittleEndian || uid === TransferSyntax.ImplicitVRLittleEndian);
        context.setResult(
          ts ? PresentationContextResult.Accept : PresentationContextResult.RejectTransferSyntaxesNotSupported,
          ts,
        );
      }
      this.sendAssociationAccept();
    }
    override associationReleaseRequested(): void {
      this.sendAssociationReleaseResponse();
    }
    // biome-ignore lint/suspicious/noExplicitAny: see above
    override cEchoRequest(request: any, callback: (r: any) => void): void {
      const response = CEchoResponse.fromRequest(request);
      response.setStatus(Status.Success);
      callback(response);
    }
    // biome-ignore lint/suspicious/noExplicitAny: see above
    override cStoreRequest(request: any, callback: (r: any) => void): void {
      const response = CStoreResponse.fromRequest(request);
      const dataset = request.getDataset();
      const uid = request.getAffectedSopInstanceUid();
      dataset.toFile(join(dir, `${uid}.dcm`), (error?: Error) => {
        if (!error) received += 1;
        response.setStatus(error ? Status.ProcessingFailure : Status.Success);
        callback(response);
      });
    }
  }
  // Loopback only: dcmjs-dimse's own Server listens on every interface (it takes no address), so
  // the demo runs its listener the way the edge's SCP does.
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    const scp = new DemoScp(socket, { associationTimeout: 30_000, pduTimeout: 30_000 });
    (scp as unknown as { connected: boolean }).connected = true;
    sockets.add(socket);
    scp.on('networkError', () => socket.destroy());
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port,
    dir,
    received: () => received,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
