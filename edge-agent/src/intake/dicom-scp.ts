import { readFileSync } from 'node:fs';
import { createServer as createPlainServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { type Logger, VigilError } from '@vigil/shared';
import { routeDimseLogs } from '../imaging/dimse-log.js';
import type { Spool } from './spool.js';
import { StoreScp } from './store-scp.js';

export interface ScpOptions {
  aeTitle: string;
  port: number;
  /** The address to listen on (the library's own server ignores one: this class runs its own listener). */
  host: string;
  /** Calling AE titles allowed to associate. */
  allowedCallingAeTitles: readonly string[];
  /** Accept any calling AE (empty allow-list and this false: every association is refused). */
  allowAnyCallingAe: boolean;
  /** Objects larger than this are discarded and answered 0xA700. */
  maxObjectBytes: number;
  /** New instances are refused (0xA700) while the spool disk has less free space than this. */
  minFreeBytes: number;
  /** DICOM TLS: key, certificate and, to require client certificates, a CA. */
  tls?: { key: Buffer; cert: Buffer; ca?: Buffer };
  spool: Spool;
  logger: Logger;
  /** Called after an instance is durably spooled (before the C-STORE response goes out). */
  onSpooled: (path: string, sopInstanceUid: string) => void;
  onDuplicate?: (sopInstanceUid: string) => void;
}

/**
 * DICOM C-STORE / C-ECHO SCP on dcmjs-dimse. Each instance is streamed straight to a file in the
 * spool (File Meta Information first, then the dataset exactly as received, in the negotiated
 * transfer syntax), fsynced and renamed into `ready/` before the response, so a Success status is
 * only ever sent for an image that is on disk.
 */
export class DicomScp {
  private server: NetServer | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(readonly options: ScpOptions) {}

  start(): Promise<void> {
    routeDimseLogs(this.options.logger);
    const options = this.options;
    // dcmjs-dimse's own Server listens on every interface (it takes no host); this listener binds the
    // configured address and ties each association's partial files to its socket's life.
    const handle = (socket: Socket): void => {
      const scp = new StoreScp(socket, { associationTimeout: 60_000, pduTimeout: 60_000 }, options);
      (scp as unknown as { connected: boolean }).connected = true;
      this.sockets.add(socket);
      scp.on('networkError', (error: Error) => {
        options.logger.warn({ code: 'VIGIL_DICOM_NETWORK', err: error.message }, 'DICOM network error');
        socket.destroy();
      });
      socket.once('close', () => {
        this.sockets.delete(socket);
        scp.discardPending();
      });
    };
    const tls = options.tls;
    const server: NetServer = tls
      ? createTlsServer(
          {
            key: tls.key,
            cert: tls.cert,
            ...(tls.ca ? { ca: tls.ca, requestCert: true, rejectUnauthorized: true } : {}),
            minVersion: 'TLSv1.2',
          },
          handle,
        )
      : createPlainServer(handle);
    server.on('tlsClientError', (error: Error) =>
      options.logger.warn({ code: 'VIGIL_DICOM_NETWORK', err: error.message }, 'DICOM TLS handshake failed'),
    );
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        server.on('error', (error: Error) =>
          options.logger.error({ code: 'VIGIL_DICOM_NETWORK', err: error.message }, 'DICOM listener error'),
        );
        resolve();
      });
    });
  }

  get port(): number {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.port : this.options.port;
  }

  get host(): string | undefined {
    const address = this.server?.address();
    return typeof address === 'object' && address ? address.address : undefined;
  }

  stop(): void {
    this.server?.close();
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

/** Reads the DICOM TLS material named in the config; a missing file is a coded error naming the key. */
export function dicomTlsMaterial(tls: {
  enabled: boolean;
  keyFile: string;
  certFile: string;
  caFile: string;
}): { key: Buffer; cert: Buffer; ca?: Buffer } | undefined {
  if (!tls.enabled) return undefined;
  const read = (file: string, key: string): Buffer => {
    if (!file)
      throw new VigilError('VIGIL_TLS_MATERIAL_MISSING', `config key dicom.tls.${key} is required with dicom.tls.enabled`);
    try {
      return readFileSync(file);
    } catch (error) {
      throw new VigilError('VIGIL_TLS_MATERIAL_MISSING', `config key dicom.tls.${key}: cannot read ${file}`, { cause: error });
    }
  };
  return {
    key: read(tls.keyFile, 'keyFile'),
    cert: read(tls.certFile, 'certFile'),
    ...(tls.caFile ? { ca: read(tls.caFile, 'caFile') } : {}),
  };
}
