import { createWriteStream, fdatasync, type WriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { Writable } from 'node:stream';
import type { ErrorCode } from '@vigil/shared';
import dcmjsDimse from 'dcmjs-dimse';
import type { AtRest } from '../at-rest/at-rest-cipher.js';
import { transferSyntax } from '../imaging/transfer-syntax.js';
import type { ScpOptions } from './dicom-scp.js';
import { part10Header } from './part10-header.js';

// CommonJS/UMD bundle: destructure the default export.
const { Scp, Dataset, constants, responses } = dcmjsDimse;
const { PresentationContextResult, RejectResult, RejectSource, RejectReason, SopClass, StorageClass, Status } = constants;
const { CEchoResponse, CStoreResponse } = responses;

type Association = dcmjsDimse.association.Association;
type PresentationContext = dcmjsDimse.association.PresentationContext;
type CStoreRequest = dcmjsDimse.requests.CStoreRequest;
type CEchoRequest = dcmjsDimse.requests.CEchoRequest;

/**
 * While an instance arrives, what has reached its file is flushed to disk every this many bytes, so
 * the fsync before the response finds little left to write: the disk works while the network does,
 * instead of after it (issue 30; the fsync itself still decides the response).
 */
const EARLY_FLUSH_BYTES = 8 * 1024 * 1024;

/** Bytes of an arriving instance buffered for its file while the previous write runs. */
const WRITE_BUFFER_BYTES = 4 * 1024 * 1024;

/** C-STORE status "Refused: Out of Resources" (PS3.4 Table GG.4-1). */
const STATUS_OUT_OF_RESOURCES = 0xa700;
const STORAGE_CLASSES = new Set<string>(Object.values(StorageClass) as string[]);

interface PendingStore {
  path: string | undefined;
  stream: Writable;
  done: Promise<Error | undefined>;
  /** Why the instance is refused although its bytes are read off the wire. */
  refused?: { code: ErrorCode; message: string };
}

/** Reads a refused instance off the wire without keeping it. */
function discard(): Writable {
  return new Writable({ write: (_chunk, _enc, next) => next() });
}

/**
 * The spool file of one instance, bounded: past `maxBytes` the file is closed and removed and the
 * rest of the object is read and dropped, so an oversized object never fills the disk.
 */
function boundedSpoolFile(path: string, header: Buffer, maxBytes: number, atRest: AtRest): PendingStore {
  // Encrypted as it arrives (when at-rest encryption is on): no plaintext copy ever lands on disk.
  // Up to WRITE_BUFFER_BYTES queue while a write runs, then go down in one writev: with the default
  // 16 KiB, a 27 MB image was 1 700 sequential writes through the thread pool, the intake's bottleneck.
  const sink: WriteStream = createWriteStream(path, { highWaterMark: WRITE_BUFFER_BYTES });
  const file = atRest.sealingStream();
  file.pipe(sink);
  file.on('error', (error) => sink.destroy(error));
  // Cut off (oversized, or the transfer broke): both ends go, the partial file with them. Not a
  // `destroy` override: the transform destroys itself after a normal end, before the file is flushed.
  const abort = () => {
    file.unpipe(sink);
    file.destroy();
    sink.destroy();
  };
  const done = new Promise<Error | undefined>((resolve) => {
    sink.once('close', () => resolve(undefined));
    sink.once('error', (error) => resolve(error));
  });
  let written = 0;
  let ended = false;
  // One early flush at a time; the file is not closed while one runs (see `final`).
  let flushing: Promise<void> | undefined;
  let flushedAt = 0;
  let fd: number | undefined;
  sink.once('open', (opened: number) => {
    fd = opened;
  });
  const flushEarly = () => {
    if (flushing || ended || fd === undefined || sink.destroyed || written - flushedAt < EARLY_FLUSH_BYTES) return;
    flushedAt = written;
    // A failure here is not the instance's: the fsync before the response decides that.
    flushing = new Promise<void>((resolve) => fdatasync(fd as number, () => resolve())).finally(() => {
      flushing = undefined;
    });
  };
  const write = (chunk: Buffer, next: (error?: Error | null) => void): void => {
    if (!pending.refused) {
      written += chunk.length;
      flushEarly();
      if (written > maxBytes) {
        pending.refused = {
          code: 'VIGIL_INTAKE_OBJECT_TOO_LARGE',
          message: `object larger than dicom.maxObjectBytes (${maxBytes} bytes)`,
        };
        abort();
        void rm(path, { force: true });
      } else if (!file.write(chunk)) {
        file.once('drain', () => next());
        return;
      }
    }
    next();
  };
  const stream = new Writable({
    write: (chunk: Buffer, _enc, next) => write(chunk, next),
    final: (next) => {
      ended = true;
      // The file closes only after an early flush still running on its descriptor.
      void (flushing ?? Promise.resolve()).then(() => {
        if (!file.destroyed) file.end();
        next();
      });
    },
    // Writables destroy themselves after 'finish': the file, still flushing, is only cut off when
    // the transfer did not end (abort, connection lost).
    destroy: (error, next) => {
      if (!ended) abort();
      next(error);
    },
  });
  const pending: PendingStore = { path, stream, done };
  write(header, () => undefined);
  return pending;
}

/**
 * One association's SCP: C-ECHO, and C-STORE streamed straight into the spool (see DicomScp). Module
 * level rather than inside `DicomScp.start`: its options come in through the constructor.
 */
export class StoreScp extends Scp {
  constructor(
    socket: Socket,
    opts: { associationTimeout: number; pduTimeout: number },
    private readonly options: ScpOptions,
  ) {
    super(socket, opts);
  }

  private association: Association | undefined;
  private readonly stores = new Map<string, PendingStore>();

  override associationRequested(association: Association): void {
    this.association = association;
    const called = association.getCalledAeTitle().trim();
    const calling = association.getCallingAeTitle().trim();
    if (called !== this.options.aeTitle) {
      this.options.logger.warn({ code: 'VIGIL_DICOM_ASSOCIATION_REJECTED', called, calling }, 'called AE title not recognised');
      this.sendAssociationReject(RejectResult.Permanent, RejectSource.ServiceUser, RejectReason.CalledAeNotRecognized);
      return;
    }
    if (!this.options.allowAnyCallingAe && !this.options.allowedCallingAeTitles.includes(calling)) {
      this.options.logger.warn({ code: 'VIGIL_DICOM_ASSOCIATION_REJECTED', called, calling }, 'calling AE title not allowed');
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
    this.options.logger.warn({ code: 'VIGIL_DICOM_NETWORK', source, reason }, 'association aborted by peer');
    this.discardPending();
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
    if (this.options.spool.isKnown(uid)) {
      // A resend: read it off the wire and drop it.
      const sink = discard();
      this.stores.set(uid, { path: undefined, stream: sink, done: Promise.resolve(undefined) });
      return sink;
    }
    if (this.options.minFreeBytes > 0 && this.options.spool.freeBytes() < this.options.minFreeBytes) {
      const sink = discard();
      const refused = {
        code: 'VIGIL_INTAKE_DISK_LOW' as const,
        message: `spool disk has less than intake.minFreeBytes (${this.options.minFreeBytes} bytes) free`,
      };
      this.stores.set(uid, { path: undefined, stream: sink, done: Promise.resolve(undefined), refused });
      return sink;
    }
    const header = part10Header({
      sopClassUid: request.getAffectedSopClassUid(),
      sopInstanceUid: uid,
      transferSyntaxUid: context.getAcceptedTransferSyntaxUid() ?? '',
      sourceAeTitle: this.association?.getCallingAeTitle(),
    });
    const pending = boundedSpoolFile(
      this.options.spool.incomingPath(),
      header,
      this.options.maxObjectBytes,
      this.options.spool.atRest,
    );
    this.stores.set(uid, pending);
    return pending.stream;
  }

  /** The connection is gone (release, abort, timeout, reset): no partial file outlives it. */
  discardPending(): void {
    for (const pending of this.stores.values()) {
      pending.stream.destroy();
      if (pending.path) void rm(pending.path, { force: true });
    }
    this.stores.clear();
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
      if (pending.refused) {
        if (pending.path) await rm(pending.path, { force: true });
        this.options.logger.error({ code: pending.refused.code, sopInstanceUid: uid, calling }, pending.refused.message);
        return STATUS_OUT_OF_RESOURCES;
      }
      if (!pending.path) {
        this.options.onDuplicate?.(uid);
        return Status.Success;
      }
      if (writeError) {
        await rm(pending.path, { force: true });
        this.options.logger.error(
          { code: 'VIGIL_INTAKE_STORAGE_FULL', sopInstanceUid: uid, err: writeError.message },
          'could not store instance',
        );
        return STATUS_OUT_OF_RESOURCES;
      }
      const outcome = await this.options.spool.admit(pending.path, uid, `dicom:${calling}`);
      if (outcome === 'duplicate') this.options.onDuplicate?.(uid);
      else this.options.onSpooled(this.options.spool.readyPathFor(uid), uid);
      return Status.Success;
    };
    finish().then(
      (status) => {
        response.setStatus(status);
        callback(response);
      },
      (error: Error) => {
        this.options.logger.error(
          { code: 'VIGIL_INTAKE_STORAGE_FULL', sopInstanceUid: uid, err: error.message },
          'could not spool instance',
        );
        response.setStatus(STATUS_OUT_OF_RESOURCES);
        callback(response);
      },
    );
  }
}
