import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { assertValidId, type DeviceAddress, VigilError } from '@vigil/shared';
import type { AuditStore } from '../audit/audit-store.js';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { DeviceRecord } from '../broker/device-store.js';
import { DeviceCa } from './device-ca.js';
import type { DeviceCertificate, PkiStore } from './pki-store.js';

export interface EnrolmentOptions {
  store: PkiStore;
  registry: DeviceRegistry;
  audit: AuditStore;
  /** The loaded device CA, or undefined when `vigil-hub ca init` has not run (VIGIL_CA_MISSING). */
  ca: DeviceCa | undefined;
  /** Lifetime of issued device certificates. */
  certValidityS: number;
  /** Default lifetime of enrolment tokens. */
  tokenTtlS: number;
}

export interface Actor {
  actor: string;
  actorRole: string;
  ip: string;
}

export interface IssuedForDevice {
  certificate: string;
  ca: string;
  serial: string;
  notAfter: string;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const TOKEN_REFUSAL = {
  unknown: 'VIGIL_ENROL_TOKEN_INVALID',
  used: 'VIGIL_ENROL_TOKEN_USED',
  expired: 'VIGIL_ENROL_TOKEN_EXPIRED',
} as const;

/**
 * Device enrolment and certificate life cycle: an operator's one-time token lets a device have
 * its own key certified once; the device renews with its current certificate before it expires;
 * revoking a device revokes every certificate it holds. Every step is audited.
 */
export class EnrolmentService {
  constructor(private readonly o: EnrolmentOptions) {}

  get caPem(): string | undefined {
    return this.o.ca?.certPem;
  }

  private requireCa(): DeviceCa {
    if (!this.o.ca) throw new VigilError('VIGIL_CA_MISSING', 'the hub has no device CA: run vigil-hub ca init');
    return this.o.ca;
  }

  /**
   * A one-time enrolment token for a device (registered now if new, with a random password nobody
   * is shown: it will authenticate by certificate). Only the token's SHA-256 is stored.
   */
  async createToken(address: DeviceAddress, by: Actor, ttlS = this.o.tokenTtlS): Promise<{ token: string; expiresAt: string }> {
    assertValidId('clinicId', address.clinicId);
    assertValidId('deviceId', address.deviceId);
    const existing = await this.o.registry.get(address.deviceId);
    if (existing?.revokedAt) {
      throw new VigilError('VIGIL_CONFIG_INVALID', `device ${address.deviceId} is revoked; enrol the replacement under a new id`);
    }
    if (existing && existing.clinicId !== address.clinicId) {
      throw new VigilError('VIGIL_CONFIG_INVALID', `device ${address.deviceId} belongs to clinic ${existing.clinicId}`);
    }
    if (!existing) await this.o.registry.add(address);
    const token = `vet_${randomBytes(32).toString('base64url')}`;
    const now = new Date();
    const expiresAt = new Date(now.getTime() + ttlS * 1000).toISOString();
    await this.o.store.addEnrolmentToken({
      tokenHash: sha256(token),
      ...address,
      createdBy: by.actor,
      createdAt: now.toISOString(),
      expiresAt,
    });
    await this.audit(by, 'device.enrol-token', address.deviceId, 'success', { clinicId: address.clinicId, expiresAt });
    return { token, expiresAt };
  }

  /** Certifies the CSR's key for the token's device, once. */
  async enrol(token: string, csrPem: string, ip: string): Promise<IssuedForDevice> {
    const ca = this.requireCa();
    // A request the CA would refuse (garbage, a weak key) does not spend the one-time token.
    try {
      await DeviceCa.verifiedCsr(csrPem);
    } catch (error) {
      await this.audit({ actor: 'device:unknown', actorRole: 'device', ip }, 'device.enrol', 'unknown', 'failure', {
        reason: (error as Error).message.slice(0, 200),
      });
      throw error;
    }
    const use = await this.o.store.useEnrolmentToken(sha256(String(token)), new Date().toISOString());
    const device = use.token?.deviceId ?? 'unknown';
    const from: Actor = { actor: `device:${device}`, actorRole: 'device', ip };
    if (!use.ok) {
      await this.audit(from, 'device.enrol', device, 'failure', { reason: use.reason });
      throw new VigilError(TOKEN_REFUSAL[use.reason], `enrolment token refused: ${use.reason}`);
    }
    const record = await this.o.registry.active(use.token.deviceId);
    if (!record || record.clinicId !== use.token.clinicId) {
      await this.audit(from, 'device.enrol', device, 'failure', { reason: 'device revoked' });
      throw new VigilError('VIGIL_CERT_INVALID', `device ${device} is revoked`);
    }
    const issued = await this.issue(ca, record, csrPem);
    await this.audit(from, 'device.enrol', device, 'success', { serial: issued.serial, notAfter: issued.notAfter });
    return issued;
  }

  /**
   * A new certificate for a device that proved itself with its current, valid one, for a new key
   * (ADR 0023): a CSR for the key it already has is refused (VIGIL_CSR_INVALID). The certificates
   * issued before it are revoked once the device authenticates with the new one
   * (DeviceRegistry.verifyCertificate), so a lost answer cannot lock the device out.
   */
  async renew(device: DeviceRecord, csrPem: string, ip: string, current?: Buffer): Promise<IssuedForDevice> {
    const ca = this.requireCa();
    const csr = await DeviceCa.verifiedCsr(csrPem);
    if (
      current &&
      Buffer.from(csr.publicKey.rawData).equals(
        Buffer.from(new X509Certificate(current).publicKey.export({ type: 'spki', format: 'der' })),
      )
    ) {
      await this.audit(
        { actor: `device:${device.deviceId}`, actorRole: 'device', ip },
        'device.certificate.renew',
        device.deviceId,
        'failure',
        {
          reason: 'same key as the current certificate',
        },
      );
      throw new VigilError('VIGIL_CSR_INVALID', "renewal needs a new key: the request carries the current certificate's key");
    }
    const issued = await this.issue(ca, device, csrPem);
    await this.audit(
      { actor: `device:${device.deviceId}`, actorRole: 'device', ip },
      'device.certificate.renew',
      device.deviceId,
      'success',
      {
        serial: issued.serial,
        notAfter: issued.notAfter,
      },
    );
    return issued;
  }

  private async issue(ca: DeviceCa, device: DeviceRecord, csrPem: string): Promise<IssuedForDevice> {
    const cert = await ca.issue(String(csrPem), device, this.o.certValidityS);
    await this.o.store.addCertificate({
      serial: cert.serial,
      deviceId: device.deviceId,
      clinicId: device.clinicId,
      fingerprint: cert.fingerprint,
      notBefore: cert.notBefore,
      notAfter: cert.notAfter,
      issuedAt: new Date().toISOString(),
    });
    return { certificate: cert.pem, ca: ca.certPem, serial: cert.serial, notAfter: cert.notAfter };
  }

  /** Revokes the device (passwords and certificates alike); a running hub drops it within seconds. */
  async revoke(deviceId: string, by: Actor): Promise<{ certificates: number }> {
    await this.o.registry.revoke(deviceId);
    const certificates = await this.o.store.revokeCertificates(deviceId, new Date().toISOString());
    await this.audit(by, 'device.revoke', deviceId, 'success', { certificates });
    return { certificates };
  }

  certificates(deviceId?: string): Promise<DeviceCertificate[]> {
    return this.o.store.listCertificates(deviceId);
  }

  private async audit(
    by: Actor,
    action: string,
    deviceId: string,
    outcome: 'success' | 'failure',
    details: Record<string, unknown>,
  ): Promise<void> {
    await this.o.audit.append({ ...by, action, targetType: 'device', targetId: deviceId.slice(0, 64), outcome, details });
  }
}
