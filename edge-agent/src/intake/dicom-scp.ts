import { createWriteStream, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Writable } from 'node:stream';
import type { Logger } from '@vigil/shared';
import dcmjsDimse from 'dcmjs-dimse';
import { transferSyntax } from '../imaging/transfer-syntax.js';
import { part10Header } from './part10-header.js';
import type { Spool } from './spool.js';

// CommonJS/UMD bundle: destructure the default export.
const { Server, Scp, Dataset, constants, responses, log: dimseLog } = dcmjsDimse;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason, SopClass, StorageClass, Status } = constants;
const { CEchoResponse, CStoreResponse } = responses;

type Association = dcmjsDimse.association.Association;
type PresentationContext = dcmjsDimse.association.PresentationContext;
type CStoreRequest = dcmjsDimse.requests.CStoreRequest;
type CEchoRequest = dcmjsDimse.requests.CEchoRequest;

/** C-STORE status "Refused: Out of Resources" (PS3.4 Table GG.4-1). */
const STATUS_OUT_OF_RESOURCES = 0xa700;
const STORAGE_CLASSES = new Set<string>(Object.values(StorageClass) as string[]);

export interface ScpOptions {
  aeTitle: string;
  port: number;
  host: string;
  /** Calling AE titles allowed to associate; empty allows any. */
  allowedCallingAeTitles: readonly string[];
  spool: Spool;
  logger: Logger;
  /** Called after an instance is durably spooled (before the C-STORE response goes out). */
  onSpooled: (path: string, sopInstanceUid: string) => void;
  onDuplicate?: (sopInstanceUid: string) => void;
}

interface PendingStore {
  path: string | undefined;
  stream: Writable;
  done: Promise<Error | undefined>;
}

/** Route dcmjs-dimse's loglevel output into pino, at debug for chatter, warn/error as such. */
function routeDimseLogs(logger: Logger): void {
  const original = dimseLog.methodFactory;
  dimseLog.methodFactory = (methodName, level, loggerName) => {
    void original;
    return (...message: unknown[]) => {
      const text = message.map(String).join(' ');
      if (methodName === 'error') logger.error({ code: 'VIGIL_DICOM_NETWORK' }, text);
      else if (methodName === 'warn') logger.warn(text);
      else logger.debug({ level, loggerName }, text);
    };
  };
  dimseLog.setLevel(dimseLog.getLevel());
}

/**
 * DICOM C-STORE / C-ECHO SCP on dcmjs-dimse. Each instance is streamed straight to a file in the
 * spool (File Meta Information first, then the dataset exactly as received, in the negotiated
 * transfer syntax), fsynced and renamed into `ready/` before the response, so a Success status is
 * only ever sent for an image that is on disk.
 */
export class DicomScp {
  private server: InstanceType<typeof Server> | undefined;

  constructor(readonly options: ScpOptions) {}

  start(): Promise<void> {
    routeDimseLogs(this.options.logger);
    const options = this.options;
    class VigilScp extends Scp {
      private association: Association | undefined;
      private readonly stores = new Map<string, PendingStore>();

      override associationRequested(association: Association): void {
        this.association = association;
        const called = association.getCalledAeTitle().trim();
        const calling = association.getCallingAeTitle().trim();
        if (called !== options.aeTitle) {
          options.logger.warn({ code: 'VIGIL_DICOM_ASSOCIATION_REJECTED', called, calling }, 'called AE title not recognised');
          this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
          return;
        }
        if (options.allowedCallingAeTitles.length > 0 && !options.allowedCallingAeTitles.includes(calling)) {
          options.logger.warn({ code: 'VIGIL_DICOM_ASSOCIATION_REJECTED', called, calling }, 'calling AE title not allowed');
          this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CallingAeNotRecognized);
          return;
        }
        for (const { id } of association.getPresentationContexts()) {
          const context = association.getPresentationContext(id);
          const abstract = context.getAbstractSyntaxUid();
          if (abstract !== SopClass.Verification && !STORAGE_CLASSES.has(abstract)) {
            context.setResult(PresentationContextResult.RejectAbstractSyntaxNotSupported);
            continue;
          }
          // Accept the first proposed syntax we can decode, so compressed images arrive as sent.
          const accepted = context.getTransferSyntaxUids().find((uid) => transferSyntax(uid) !== undefined);
          if (accepted) context.setResult(PresentationContextResult.Accept, accepted);
          else context.setResult(PresentationContextResult.RejectTransferSyntaxesNotSupported);
        }
        this.sendAssociationAccept();
      }

      override abort(source: number, reason: number): void {
        options.logger.warn({ code: 'VIGIL_DICOM_NETWORK', source, reason }, 'association aborted by peer');
        for (const pending of this.stores.values()) {
          pending.stream.destroy();
          if (pending.path) void rm(pending.path, { force: true });
        }
        this.stores.clear();
      }

      override associationReleaseRequested(): void {
        this.sendAssociationReleaseResponse();
      }

      override cEchoRequest(request: CEchoRequest, callback: (response: InstanceType<typeof CEchoResponse>) => void): void {
        const response = CEchoResponse.fromRequest(request);
        response.setStatus(Status.Success);
        callback(response);
      }

      override createStoreWritableStream(context: PresentationContext, request: CStoreRequest): Writable {
        const uid = request.getAffectedSopInstanceUid();
        if (options.spool.isKnown(uid)) {
          // A resend: read it off the wire and drop it.
          const sink = new Writable({ write: (_chunk, _enc, next) => next() });
          this.stores.set(uid, { path: undefined, stream: sink, done: Promise.resolve(undefined) });
          return sink;
        }
        const path = options.spool.incomingPath();
        const stream: WriteStream = createWriteStream(path);
        const done = new Promise<Error | undefined>((resolve) => {
          stream.once('close', () => resolve(undefined));
          stream.once('error', (error) => resolve(error));
        });
        stream.write(
          part10Header({
            sopClassUid: request.getAffectedSopClassUid(),
            sopInstanceUid: uid,
            transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? '',
            sourceAeTitle: this.association?.getCallingAeTitle(),
          }),
        );
        this.stores.set(uid, { path, stream, done });
        return stream;
      }

      override createDatasetFromStoreWritableStream(
        _writable: Writable,
        _context: PresentationContext,
        callback: (dataset: InstanceType<typeof Dataset>) => void,
      ): void {
        // The bytes are in the spool file; cStoreRequest makes them durable. No in-memory copy.
        callback(new Dataset());
      }

      override cStoreRequest(request: CStoreRequest, callback: (response: InstanceType<typeof CStoreResponse>) => void): void {
        const uid = request.getAffectedSopInstanceUid();
        const pending = this.stores.get(uid);
        this.stores.delete(uid);
        const response = CStoreResponse.fromRequest(request);
        const calling = this.association?.getCallingAeTitle().trim() ?? '';
        const finish = async (): Promise<number> => {
          if (!pending) return Status.ProcessingFailure;
          const writeError = await pending.done;
          if (!pending.path) {
            options.onDuplicate?.(uid);
            return Status.Success;
          }
          if (writeError) {
            await rm(pending.path, { force: true });
            options.logger.error(
              { code: 'VIGIL_INTAKE_STORAGE_FULL', sopInstanceUid: uid, err: writeError.message },
              'could not store instance',
            );
            return STATUS_OUT_OF_RESOURCES;
          }
          const outcome = await options.spool.admit(pending.path, uid, `dicom:${calling}`);
          if (outcome === 'duplicate') options.onDuplicate?.(uid);
          else options.onSpooled(options.spool.readyPathFor(uid), uid);
          return Status.Success;
        };
        finish().then(
          (status) => {
            response.setStatus(status);
            callback(response);
          },
          (error: Error) => {
            options.logger.error(
              { code: 'VIGIL_INTAKE_STORAGE_FULL', sopInstanceUid: uid, err: error.message },
              'could not spool instance',
            );
            response.setStatus(STATUS_OUT_OF_RESOURCES);
            callback(response);
          },
        );
      }
    }

    const server = new Server(VigilScp);
    this.server = server;
    server.on('networkError', (error: Error) =>
      options.logger.warn({ code: 'VIGIL_DICOM_NETWORK', err: error.message }, 'DICOM network error'),
    );
    server.listen(options.port, { associationTimeout: 60_000, pduTimeout: 60_000 });
    return new Promise((resolve) => setTimeout(resolve, 50));
  }

  get port(): number {
    const address = (this.server as unknown as { server?: { address(): { port: number } | string | null } })?.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  stop(): void {
    this.server?.close();
  }
}
