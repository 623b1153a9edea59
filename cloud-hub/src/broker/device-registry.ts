import { createHash, randomBytes, timingSafeEqual, X509Certificate } from 'node:crypto';
import { assertValidId, type DeviceAddress, type Logger, VigilError } from '@vigil/shared';
import { ConcurrencyGate } from '../auth/concurrency-gate.js';
import { decoyHash, hashPassword, verifyPassword } from '../auth/password-hash.js';
import { MemoryCounters } from '../cluster/counter-store.js';
import type { PkiStore } from '../pki/pki-store.js';
import type { DeviceRecord, DeviceStore } from './device-store.js';

export interface AddedDevice {
  device: DeviceRecord;
  /** Shown once; only its argon2id hash is stored. */
  password: string;
}

function digest(password: string): Buffer {
  return createHash('sha256').update(password).digest();
}

/** Limits on what unauthenticated MQTT peers can make the hub compute (review finding 7). */
export const DEVICE_AUTH_LIMITS = {
  /** argon2 verifications at once (64 MiB each); the rest wait, up to `queued`, or are refused. */
  concurrentHashes: 1,
  queued: 16,
  /** Wrong passwords for one device id before that id is refused without hashing, for `lockMs`. */
  perDevice: 10,
  /** Wrong passwords from one address (any ids) before it is refused without hashing. */
  perAddress: 30,
  lockMs: 60_000,
};

/**
 * Per-device credentials. Passwords are stored only as argon2id hashes; a verified password's
 * SHA-256 is remembered per hash so a reconnect storm does not cost one argon2 run per connect.
 * Unknown and revoked ids are checked against a decoy hash, so they cost what a known id costs and
 * the time of a refusal reveals nothing; hashing is gated and repeated failures are throttled per id
 * and per address (then refused without hashing), so wrong passwords cannot exhaust the CPU.
 */
export class DeviceRegistry {
  private readonly verified = new Map<string, { hash: string; digest: Buffer }>();
  /** argon2 verifications run so far (what unauthenticated peers made the hub compute). */
  hashesComputed = 0;
  private readonly gate = new ConcurrencyGate(DEVICE_AUTH_LIMITS.concurrentHashes, DEVICE_AUTH_LIMITS.queued);
  /**
   * Failures per device id and per address. In this process: the embedded broker that asks is this
   * process's own (with an external broker, the broker authenticates devices).
   */
  private readonly failures = new MemoryCounters();

  constructor(private readonly state: Omit<DeviceStore, 'listDeviceStates'> & { readonly pki: PkiStore }) {}

  /**
   * Now and then, disconnects every revoked device that is still connected (a revocation by another
   * replica or by the CLI reaches this replica's connections this way). A check that cannot read the
   * device list is logged and counted, and the next one tries again.
   */
  watchRevocations(o: { intervalMs: number; disconnect: (deviceId: string) => void; logger: Logger; onFailure?: () => void }): {
    check(): Promise<void>;
    stop(): void;
  } {
    const check = async () => {
      try {
        for (const device of await this.state.listDevices()) if (device.revokedAt) o.disconnect(device.deviceId);
      } catch (error) {
        o.onFailure?.();
        o.logger.warn({ code: 'VIGIL_STATE_STORE_UNAVAILABLE', err: (error as Error).message }, 'revocation check failed');
      }
    };
    const timer = setInterval(() => void check(), o.intervalMs);
    timer.unref();
    return { check, stop: () => clearInterval(timer) };
  }

  async add(address: DeviceAddress, options: { password?: string; tags?: string[] } = {}): Promise<AddedDevice> {
    assertValidId('clinicId', address.clinicId);
    assertValidId('deviceId', address.deviceId);
    const password = options.password ?? randomBytes(24).toString('base64url');
    if (password.length < 12) throw new VigilError('VIGIL_CONFIG_INVALID', 'device passwords must be at least 12 characters');
    const passwordHash = await hashPassword(password);
    const device = await this.state.addDevice({ ...address, passwordHash, tags: options.tags ?? [] });
    return { device, password };
  }

  list(): Promise<DeviceRecord[]> {
    return this.state.listDevices();
  }

  async revoke(deviceId: string): Promise<void> {
    this.verified.delete(deviceId);
    if (!(await this.state.revokeDevice(deviceId))) {
      const existing = await this.state.getDevice(deviceId);
      if (!existing) throw new VigilError('VIGIL_DEVICE_UNKNOWN', `no device ${deviceId}`);
    }
  }

  get(deviceId: string): Promise<DeviceRecord | undefined> {
    return this.state.getDevice(deviceId);
  }

  /** The hub's own device CA, when it has one: certificates it signed are checked against its records. */
  deviceCa: X509Certificate | undefined;

  /**
   * The device a client certificate (already verified by TLS against the trusted CAs) stands for.
   * Issued by the hub's device CA: the hub must have issued that serial to that device and clinic,
   * and neither the certificate nor the device may be revoked. Issued by another CA the operator
   * trusts (`mqtt.tls.caFile`): its CN must name an active device. VIGIL_CERT_INVALID otherwise.
   */
  async verifyCertificate(peer: {
    subject?: { CN?: unknown; O?: unknown };
    serialNumber?: string;
    raw?: Buffer;
  }): Promise<DeviceRecord> {
    const cn = typeof peer.subject?.CN === 'string' ? peer.subject.CN : '';
    const o = typeof peer.subject?.O === 'string' ? peer.subject.O : '';
    if (!this.issuedByHub(peer.raw)) {
      const device = await this.active(cn);
      if (!device)
        throw new VigilError('VIGIL_CERT_INVALID', `certificate for ${cn.slice(0, 64)} refused: no such active device`);
      return device;
    }
    const serial = (peer.serialNumber ?? '').toLowerCase().replace(/^0+/, '');
    const refused = (why: string) => new VigilError('VIGIL_CERT_INVALID', `certificate for ${cn.slice(0, 64)} refused: ${why}`);
    const issued = serial ? await this.state.pki.getCertificate(serial.padStart(32, '0')) : undefined;
    if (!issued) throw refused('not issued by this hub');
    if (issued.revokedAt) throw refused('revoked');
    if (issued.deviceId !== cn || issued.clinicId !== o) throw refused('subject does not match the issued certificate');
    const device = await this.active(cn);
    if (!device || device.clinicId !== o) throw refused('device revoked');
    // The device now holds a renewed certificate: the ones issued before it (older keys) stop working.
    const older = (await this.state.pki.listCertificates(cn)).some((c) => !c.revokedAt && c.issuedAt < issued.issuedAt);
    if (older) await this.state.pki.revokeCertificates(cn, new Date().toISOString(), issued.issuedAt);
    return device;
  }

  private issuedByHub(raw: Buffer | undefined): boolean {
    if (!this.deviceCa || !raw) return false;
    try {
      return new X509Certificate(raw).verify(this.deviceCa.publicKey);
    } catch {
      return false;
    }
  }

  /** The active device for a username, or undefined when unknown or revoked. */
  async active(deviceId: string): Promise<DeviceRecord | undefined> {
    const device = await this.state.getDevice(deviceId);
    return device && device.revokedAt === null ? device : undefined;
  }

  /** Verifies a device's password; throws VIGIL_MQTT_AUTH_FAILED with no hint of which part was wrong. */
  async verify(deviceId: string, password: string, address = 'unknown'): Promise<DeviceRecord> {
    const refused = new VigilError('VIGIL_MQTT_AUTH_FAILED', `authentication failed for ${deviceId.slice(0, 64)}`);
    const device = await this.active(deviceId);
    const cached = device ? this.verified.get(deviceId) : undefined;
    const d = digest(password);
    // A device reconnecting with the password it last proved: no hash, no throttle.
    if (device && cached && cached.hash === device.passwordHash && timingSafeEqual(cached.digest, d)) return device;
    const idKey = deviceId.slice(0, 64);
    const throttled = async () =>
      (await this.failures.lockedFor(`device:${idKey}`)) > 0 || (await this.failures.lockedFor(`address:${address}`)) > 0;
    const tooMany = () => new VigilError('VIGIL_MQTT_AUTH_FAILED', `too many failed attempts for ${idKey}; retry later`);
    if (await throttled()) throw tooMany();
    const ok = await this.gate.run(async () => {
      // Checked again: attempts that queued while others failed are refused without hashing.
      if (await throttled()) throw tooMany();
      this.hashesComputed += 1;
      const valid = await verifyPassword(device?.passwordHash ?? (await decoyHash()), password);
      return valid && device !== undefined && password.length > 0;
    });
    if (!ok || !device) {
      const { perDevice, perAddress, lockMs } = DEVICE_AUTH_LIMITS;
      await this.failures.fail(`device:${idKey}`, perDevice, lockMs);
      await this.failures.fail(`address:${address}`, perAddress, lockMs);
      throw refused;
    }
    await this.failures.clearFailure(`device:${idKey}`);
    this.verified.set(deviceId, { hash: device.passwordHash, digest: d });
    return device;
  }
}
