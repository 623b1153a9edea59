/**
 * The edge's own X.509 identity. The key is made here and never leaves the device (0600 under
 * {dataDir}/identity); the hub's device CA certifies it once against an operator's one-time
 * enrolment token, and again, for a fresh key, before each certificate expires (renewal over mTLS
 * with the current certificate). MQTT (mTLS on 8883) and the device HTTP routes use it.
 *
 * CSRs through @peculiar/x509 over Node's WebCrypto (ADR 0023).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, webcrypto, X509Certificate } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { backoffDelay, type DeviceAddress, type Logger, VigilError } from '@vigil/shared';
import { Agent, fetch as undiciFetch } from 'undici';
import type { DeviceHttp } from './device-http.js';

x509.cryptoProvider.set(webcrypto as never);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface IdentityFiles {
  key: string;
  cert: string;
  ca: string;
}

export const identityFiles = (dataDir: string): IdentityFiles => {
  const dir = join(dataDir, 'identity');
  return { key: join(dir, 'device.key'), cert: join(dir, 'device.pem'), ca: join(dir, 'device-ca.pem') };
};

export interface DeviceIdentityOptions {
  address: DeviceAddress;
  dataDir: string;
  /** The hub's HTTPS API base URL. */
  hubUrl: string;
  /** CA that signed the hub's server certificates (HTTPS and MQTT); empty: the system's. */
  hubCaFile?: string | undefined;
  /** Renew once this fraction of the certificate's lifetime has passed (default 2/3). */
  renewAt?: number;
  logger: Logger;
}

interface Loaded {
  keyPem: string;
  certPem: string;
  caPem: string;
  cert: X509Certificate;
}

function writePrivate(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

export async function csrFor(address: DeviceAddress, keyPem: string): Promise<string> {
  const privateDer = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
  const publicDer = createPublicKey(keyPem).export({ type: 'spki', format: 'der' });
  const keys = {
    privateKey: await webcrypto.subtle.importKey('pkcs8', privateDer, ALG, false, ['sign']),
    publicKey: await webcrypto.subtle.importKey('spki', publicDer, ALG, true, ['verify']),
  };
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    name: `CN=${address.deviceId}, O=${address.clinicId}`,
    keys: keys as never,
    signingAlgorithm: ALG,
  });
  return csr.toString('pem');
}

export class DeviceIdentity implements DeviceHttp {
  readonly files: IdentityFiles;
  private loaded: Loaded | undefined;
  private agent: Agent | undefined;
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  /** Why the last renewal failed (telemetry, logs); cleared on success. */
  lastError: VigilError | undefined;

  constructor(private readonly o: DeviceIdentityOptions) {
    this.files = identityFiles(o.dataDir);
  }

  /** Whether this device holds a certificate (enrolled). */
  get enrolled(): boolean {
    return existsSync(this.files.cert) && existsSync(this.files.key);
  }

  get certificate(): X509Certificate | undefined {
    return this.load()?.cert;
  }

  private load(): Loaded | undefined {
    if (this.loaded) return this.loaded;
    if (!this.enrolled) return undefined;
    const certPem = readFileSync(this.files.cert, 'utf8');
    this.loaded = {
      keyPem: readFileSync(this.files.key, 'utf8'),
      certPem,
      caPem: existsSync(this.files.ca) ? readFileSync(this.files.ca, 'utf8') : '',
      cert: new X509Certificate(certPem),
    };
    return this.loaded;
  }

  private hubCa(): Buffer | undefined {
    return this.o.hubCaFile ? readFileSync(this.o.hubCaFile) : undefined;
  }

  private url(path: string): string {
    if (!this.o.hubUrl) throw new VigilError('VIGIL_CONFIG_INVALID', 'hubUrl is not set: the hub API URL to enrol with');
    return `${this.o.hubUrl.replace(/\/$/, '')}${path}`;
  }

  private async post(path: string, body: unknown, dispatcher?: Agent): Promise<{ certificate: string; ca: string }> {
    const ca = this.hubCa();
    const agent = dispatcher ?? new Agent({ connect: ca ? { ca } : {} });
    let response: Awaited<ReturnType<typeof undiciFetch>>;
    try {
      response = await undiciFetch(this.url(path), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        dispatcher: agent,
        // A hub that accepts the connection and never answers must not hold enrolment (or a
        // renewal) for good: the renewal retries with backoff; an enrolment fails with the code.
        signal: AbortSignal.timeout(30_000),
      });
    } catch (error) {
      throw new VigilError('VIGIL_CERT_RENEW_FAILED', `cannot reach the hub at ${this.o.hubUrl}: ${(error as Error).message}`);
    } finally {
      if (!dispatcher) void agent.close();
    }
    const json = (await response.json().catch(() => ({}))) as {
      certificate?: string;
      ca?: string;
      error?: { code?: string; message?: string };
    };
    if (!response.ok || !json.certificate) {
      const code = json.error?.code ?? 'VIGIL_CERT_RENEW_FAILED';
      throw new VigilError(code as 'VIGIL_CERT_RENEW_FAILED', json.error?.message ?? `hub answered HTTP ${response.status}`);
    }
    return { certificate: json.certificate, ca: json.ca ?? '' };
  }

  /** Stores a new key and its certificate: key first, so a crash between leaves the old pair usable. */
  private store(keyPem: string, issued: { certificate: string; ca: string }): void {
    mkdirSync(join(this.o.dataDir, 'identity'), { recursive: true, mode: 0o700 });
    const cert = new X509Certificate(issued.certificate);
    if (!cert.checkPrivateKey(createPrivateKey(keyPem))) {
      throw new VigilError('VIGIL_CERT_INVALID', 'the hub returned a certificate for another key');
    }
    // The pair is written as one unit: a new key file beside an old certificate would not match.
    writePrivate(`${this.files.key}.next`, keyPem, 0o600);
    writePrivate(`${this.files.cert}.next`, issued.certificate, 0o644);
    if (issued.ca) writePrivate(this.files.ca, issued.ca, 0o644);
    renameSync(`${this.files.key}.next`, this.files.key);
    renameSync(`${this.files.cert}.next`, this.files.cert);
    this.loaded = undefined;
    void this.agent?.close();
    this.agent = undefined;
  }

  /** A crash between the two renames of store() left a `.next` pair: finish it (both are complete files). */
  recover(): void {
    if (existsSync(`${this.files.cert}.next`) && !existsSync(`${this.files.key}.next`)) {
      renameSync(`${this.files.cert}.next`, this.files.cert);
    }
  }

  private newKey(): string {
    return generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  }

  /** Enrols with a one-time token: a new key, its CSR, the hub's certificate. */
  async enrol(token: string): Promise<X509Certificate> {
    const keyPem = this.newKey();
    const issued = await this.post('/api/v1/device/enrol', { token, csr: await csrFor(this.o.address, keyPem) });
    this.store(keyPem, issued);
    const cert = this.certificate as X509Certificate;
    this.o.logger.info({ serial: cert.serialNumber, notAfter: cert.validTo }, 'enrolled: device certificate issued');
    return cert;
  }

  /** A fresh key and certificate, asked for with the current certificate (mTLS). */
  async renew(): Promise<X509Certificate> {
    const keyPem = this.newKey();
    const issued = await this.post(
      '/api/v1/device/certificate',
      { csr: await csrFor(this.o.address, keyPem) },
      this.dispatcher(),
    );
    this.store(keyPem, issued);
    return this.certificate as X509Certificate;
  }

  /** When renewal is due: `renewAt` of the way from notBefore to notAfter. */
  renewalDue(): Date | undefined {
    const cert = this.certificate;
    if (!cert) return undefined;
    const from = new Date(cert.validFrom).getTime();
    const to = new Date(cert.validTo).getTime();
    return new Date(from + (to - from) * (this.o.renewAt ?? 2 / 3));
  }

  /**
   * Renews on schedule without an operator, retrying with backoff; `onRenewed` reconnects what
   * uses the certificate (MQTT).
   */
  startRenewal(onRenewed: () => void): void {
    const schedule = (delayMs: number) => {
      clearTimeout(this.timer);
      this.timer = setTimeout(tick, Math.max(0, Math.min(delayMs, 2 ** 31 - 1)));
      this.timer.unref();
    };
    const tick = () => {
      const due = this.renewalDue();
      if (!due) return;
      const wait = due.getTime() - Date.now();
      if (wait > 0) {
        schedule(wait);
        return;
      }
      this.renew().then(
        (cert) => {
          this.attempt = 0;
          this.lastError = undefined;
          this.o.logger.info({ serial: cert.serialNumber, notAfter: cert.validTo }, 'device certificate renewed');
          onRenewed();
          // Never renew again sooner than a twentieth of the new lifetime (no storm if the hub
          // issues shorter certificates than this device's renewAt expects).
          const lifetime = new Date(cert.validTo).getTime() - new Date(cert.validFrom).getTime();
          schedule(Math.max(1000, lifetime / 20, (this.renewalDue()?.getTime() ?? 0) - Date.now()));
        },
        (error: unknown) => {
          this.attempt += 1;
          const vigil = error instanceof VigilError ? error : new VigilError('VIGIL_CERT_RENEW_FAILED', String(error));
          this.lastError = vigil;
          const retry = backoffDelay(this.attempt, { minMs: 1000, maxMs: 5 * 60_000 });
          this.o.logger.error({ code: vigil.code, retryInMs: retry }, `certificate renewal failed: ${vigil.message}`);
          schedule(retry);
        },
      );
    };
    schedule(0);
  }

  stop(): void {
    clearTimeout(this.timer);
    void this.agent?.close();
    this.agent = undefined;
  }

  /** TLS material for MQTT and HTTPS: this device's key and certificate, and the hub's CA. */
  tls(): { key: string; cert: string; ca?: Buffer } {
    const loaded = this.load();
    if (!loaded) throw new VigilError('VIGIL_CERT_INVALID', 'this device has no certificate yet (not enrolled)');
    const ca = this.hubCa();
    return { key: loaded.keyPem, cert: loaded.certPem, ...(ca ? { ca } : {}) };
  }

  private dispatcher(): Agent {
    if (!this.agent) this.agent = new Agent({ connect: this.tls() });
    return this.agent;
  }

  /** DeviceHttp: the device routes over mTLS with the current certificate. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    return (await undiciFetch(url, { ...(init as object), dispatcher: this.dispatcher() })) as unknown as Response;
  }
}
