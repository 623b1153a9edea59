/**
 * The hub's device CA: an ECDSA P-256 key (a file, 0600) and a self-signed CA certificate. It signs
 * device certificates from CSRs (the device's key never leaves the device); subject CN = device id,
 * O = clinic id, extended key usage clientAuth only.
 *
 * X.509 and PKCS#10 through @peculiar/x509 over Node's WebCrypto (ADR 0023: maintained, typed, no
 * native code, and it builds certificates and verifies CSRs, which Node's crypto cannot).
 */
import { createHash, createPrivateKey, randomBytes, webcrypto } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata polyfill first.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { VigilError } from '@vigil/shared';

x509.cryptoProvider.set(webcrypto as never);

type CryptoKey = webcrypto.CryptoKey;

const ALG: webcrypto.EcKeyGenParams & webcrypto.EcdsaParams = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };

export interface DeviceCaFiles {
  key: string;
  cert: string;
}

export const caFiles = (dir: string): DeviceCaFiles => ({ key: join(dir, 'ca.key'), cert: join(dir, 'ca.pem') });

export interface IssuedCertificate {
  pem: string;
  serial: string;
  fingerprint: string;
  notBefore: string;
  notAfter: string;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der)
    .toString('base64')
    .replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64.replace(/\n$/, '')}\n-----END ${label}-----\n`;
}

/** Positive, 128 random bits: unpredictable serials (CA/B Forum asks ≥ 64). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] as number) & 0x7f;
  if (bytes[0] === 0) bytes[0] = 1;
  return bytes.toString('hex');
}

function writeAtomic(path: string, data: string, mode: number): void {
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, data, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, path);
}

/** Creates the CA in `dir` (key 0600, certificate 0644). Refuses to replace an existing CA. */
export async function initDeviceCa(
  dir: string,
  options: { name?: string; validityDays?: number } = {},
): Promise<{
  certFile: string;
  keyFile: string;
  fingerprint: string;
}> {
  const files = caFiles(dir);
  if (existsSync(files.key) || existsSync(files.cert)) {
    throw new VigilError('VIGIL_CA_EXISTS', `a device CA already exists in ${dir}; it signs every enrolled device`);
  }
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(notBefore.getTime() + (options.validityDays ?? 3650) * 86_400_000);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: `CN=${options.name ?? 'Vigil device CA'}`,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  writeAtomic(files.key, toPem(pkcs8, 'PRIVATE KEY'), 0o600);
  writeAtomic(files.cert, cert.toString('pem'), 0o644);
  return { certFile: files.cert, keyFile: files.key, fingerprint: fingerprintOf(cert) };
}

function fingerprintOf(cert: x509.X509Certificate): string {
  return createHash('sha256').update(Buffer.from(cert.rawData)).digest('hex');
}

/** A loaded device CA: signs certificates for CSRs. */
export class DeviceCa {
  private constructor(
    readonly certificate: x509.X509Certificate,
    readonly certPem: string,
    private readonly key: CryptoKey,
  ) {}

  /** Loads the CA from `dir`; VIGIL_CA_INVALID when its key is readable by others or does not match. */
  static async load(dir: string): Promise<DeviceCa> {
    const files = caFiles(dir);
    let keyPem: string;
    let certPem: string;
    try {
      if ((statSync(files.key).mode & 0o077) !== 0) {
        throw new VigilError('VIGIL_CA_INVALID', `${files.key} is readable by others: chmod 600 it`);
      }
      keyPem = readFileSync(files.key, 'utf8');
      certPem = readFileSync(files.cert, 'utf8');
    } catch (error) {
      if (error instanceof VigilError) throw error;
      throw new VigilError('VIGIL_CA_MISSING', `no device CA in ${dir} (vigil-hub ca init): ${(error as Error).message}`);
    }
    const der = createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' });
    const key = await webcrypto.subtle.importKey('pkcs8', der, ALG, false, ['sign']);
    const certificate = new x509.X509Certificate(certPem);
    return new DeviceCa(certificate, certPem, key);
  }

  /**
   * A CSR that is well-formed, self-signed by the key it carries and names an EC P-256/P-384 or
   * RSA ≥ 2048 key; VIGIL_CSR_INVALID otherwise. Checked before anything is spent on it (an
   * enrolment token, a renewal).
   */
  static async verifiedCsr(csrPem: string): Promise<x509.Pkcs10CertificateRequest> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(String(csrPem));
    } catch (error) {
      throw new VigilError('VIGIL_CSR_INVALID', `not a PKCS#10 certificate request: ${(error as Error).message}`);
    }
    if (!(await csr.verify().catch(() => false))) {
      throw new VigilError('VIGIL_CSR_INVALID', 'the certificate request is not signed by the key it carries');
    }
    const algorithm = csr.publicKey.algorithm as { name: string; namedCurve?: string; modulusLength?: number };
    const strong =
      (algorithm.name === 'ECDSA' && ['P-256', 'P-384'].includes(algorithm.namedCurve ?? '')) ||
      (algorithm.name.startsWith('RSA') && (algorithm.modulusLength ?? 0) >= 2048);
    if (!strong)
      throw new VigilError('VIGIL_CSR_INVALID', `key type ${algorithm.name} ${algorithm.namedCurve ?? ''} is not accepted`);
    return csr;
  }

  static exists(dir: string): boolean {
    return existsSync(caFiles(dir).cert) && existsSync(caFiles(dir).key);
  }

  /**
   * Verifies a PKCS#10 CSR (well-formed, self-signed by the key it carries, an EC P-256 or RSA ≥ 2048
   * key) and signs a certificate for that key naming `deviceId` and `clinicId`; the CSR's own subject
   * is ignored. VIGIL_CSR_INVALID otherwise.
   */
  async issue(csrPem: string, subject: { deviceId: string; clinicId: string }, validityS: number): Promise<IssuedCertificate> {
    const csr = await DeviceCa.verifiedCsr(csrPem);
    // Back-dated (a minute, or a tenth of a short lifetime): a device whose clock runs slightly
    // behind accepts it at once, and renewal timing (a fraction of the lifetime) stays meaningful.
    const notBefore = new Date(Date.now() - Math.min(60_000, validityS * 100));
    const notAfter = new Date(Math.min(Date.now() + validityS * 1000, this.certificate.notAfter.getTime()));
    const serial = newSerial();
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: serial,
      subject: `CN=${subject.deviceId}, O=${subject.clinicId}`,
      issuer: this.certificate.subject,
      notBefore,
      notAfter,
      signingAlgorithm: ALG,
      publicKey: csr.publicKey,
      signingKey: this.key,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
        await x509.AuthorityKeyIdentifierExtension.create(this.certificate),
        await x509.SubjectKeyIdentifierExtension.create(csr.publicKey),
      ],
    });
    return {
      pem: cert.toString('pem'),
      serial,
      fingerprint: fingerprintOf(cert),
      notBefore: notBefore.toISOString(),
      notAfter: notAfter.toISOString(),
    };
  }
}
