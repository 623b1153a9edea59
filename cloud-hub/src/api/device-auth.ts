import { VigilError } from '@vigil/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { DeviceRecord } from '../state/state-store.js';

/**
 * The device calling a device route with its own credentials (HTTP Basic: device id and device
 * password, the same as for MQTT); VIGIL_AUTH_REQUIRED with a Basic challenge otherwise.
 */
export async function requireDevice(
  request: FastifyRequest,
  reply: FastifyReply,
  devices: DeviceRegistry,
): Promise<DeviceRecord> {
  const header = request.headers.authorization ?? '';
  const [user = '', password = ''] = header.startsWith('Basic ')
    ? Buffer.from(header.slice(6), 'base64').toString('utf8').split(/:(.*)/s)
    : [];
  try {
    return await devices.verify(user, password, request.ip);
  } catch {
    reply.header('www-authenticate', 'Basic realm="vigil-devices"');
    throw new VigilError('VIGIL_AUTH_REQUIRED', 'device credentials required');
  }
}
