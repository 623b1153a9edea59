import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { assertValidId, type DeviceAddress, VigilError } from '@vigil/shared';
import { hashPassword, verifyPassword } from '../auth/password-hash.js';
import type { DeviceRecord, StateStore } from '../state/state-store.js';

export interface AddedDevice {
  device: DeviceRecord;
  /** Shown once; only its argon2id hash is stored. */
  password: string;
}

function digest(password: string): Buffer {
  return createHash('sha256').update(password).digest();
}

/**
 * Per-device credentials. Passwords are stored only as argon2id hashes; a verified password's
 * SHA-256 is remembered per hash so a reconnect storm does not cost one argon2 run per connect.
 */
export class DeviceRegistry {
  private readonly verified = new Map<string, { hash: string; digest: Buffer }>();

  constructor(private readonly state: StateStore) {}

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

  /** The active device for a username, or undefined when unknown or revoked. */
  async active(deviceId: string): Promise<DeviceRecord | undefined> {
    const device = await this.state.getDevice(deviceId);
    return device && device.revokedAt === null ? device : undefined;
  }

  /** Verifies a device's password; throws VIGIL_MQTT_AUTH_FAILED with no hint of which part was wrong. */
  async verify(deviceId: string, password: string): Promise<DeviceRecord> {
    const refused = new VigilError('VIGIL_MQTT_AUTH_FAILED', `authentication failed for ${deviceId.slice(0, 64)}`);
    const device = await this.active(deviceId);
    if (!device || password.length === 0) throw refused;
    const cached = this.verified.get(deviceId);
    const d = digest(password);
    if (cached && cached.hash === device.passwordHash && timingSafeEqual(cached.digest, d)) return device;
    if (!(await verifyPassword(device.passwordHash, password))) throw refused;
    this.verified.set(deviceId, { hash: device.passwordHash, digest: d });
    return device;
  }
}
