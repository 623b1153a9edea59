import type { TLSSocket } from 'node:tls';
import { VigilError } from '@vigil/shared';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { DeviceRecord } from '../broker/device-store.js';

/** The client certificate a request came with over HTTPS, verified against the device CA by TLS. */
export function peerCertificate(request: FastifyRequest): ReturnType<TLSSocket['getPeerCertificate']> | undefined {
  const socket = request.raw.socket as Partial<TLSSocket>;
  if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') return undefined;
  const peer = socket.getPeerCertificate();
  return peer && Object.keys(peer).length > 0 ? peer : undefined;
}

/**
 * The device calling a device route with its own credentials: the client certificate the hub
 * issued it (mTLS), or HTTP Basic with device id and device password (as for MQTT).
 * VIGIL_CERT_INVALID for a revoked or foreign certificate; VIGIL_AUTH_REQUIRED with a Basic
 * challenge when there are no credentials or they are wrong.
 */
export async function requireDevice(
  request: FastifyRequest,
  reply: FastifyReply,
  devices: DeviceRegistry,
): Promise<DeviceRecord> {
  const peer = peerCertificate(request);
  if (peer) {
    return devices.verifyCertificate(peer);
  }
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
