import { Type } from '@sinclair/typebox';
import { VigilError } from '@vigil/shared';
import type { FastifyInstance } from 'fastify';
import type { DeviceRegistry } from '../broker/device-registry.js';
import type { EnrolmentService } from '../pki/enrolment-service.js';
import { peerCertificate } from './device-auth.js';

export interface PkiRouteOptions {
  enrolment: EnrolmentService;
  devices: DeviceRegistry;
  /** Enrolment attempts per minute per address (tokens are unguessable; this bounds the CA's work). */
  enrolRateLimitPerMinute: number;
}

const Issued = Type.Object(
  {
    certificate: Type.String({ description: "The device's certificate (PEM), subject CN=device id, O=clinic id" }),
    ca: Type.String({ description: "The device CA's certificate (PEM)" }),
    serial: Type.String(),
    notAfter: Type.String({ format: 'date-time' }),
  },
  { $id: 'IssuedCertificate' },
);

const Csr = Type.String({
  minLength: 100,
  maxLength: 16_384,
  description: 'A PKCS#10 certificate request (PEM) made by the device for its own key',
});

/**
 * Device certificates (docs/architecture.md, "Device identity"): enrol once with an operator's
 * one-time token, renew with the current certificate, fetch the device CA.
 */
export async function registerPkiRoutes(app: FastifyInstance, o: PkiRouteOptions): Promise<void> {
  app.addSchema(Issued);

  app.get(
    '/device/ca',
    {
      config: { public: true },
      schema: {
        tags: ['devices'],
        summary: "The device CA's certificate (PEM), for MQTT brokers and proxies that check device certificates",
      },
    },
    async (_request, reply) => {
      const pem = o.enrolment.caPem;
      if (!pem) throw new VigilError('VIGIL_CA_MISSING', 'the hub has no device CA: run vigil-hub ca init');
      return reply.type('application/x-pem-file').send(pem);
    },
  );

  app.post<{ Body: { token: string; csr: string } }>(
    '/device/enrol',
    {
      config: { public: true, rateLimit: { max: o.enrolRateLimitPerMinute, timeWindow: 60_000 } },
      schema: {
        tags: ['devices'],
        summary: "Enrol a device: a one-time token from the operator and a CSR for the device's own key give its certificate",
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }), csr: Csr }, { additionalProperties: false }),
        response: { 200: Type.Ref('IssuedCertificate'), 400: Type.Ref('ErrorBody'), 401: Type.Ref('ErrorBody') },
      },
    },
    async (request) => o.enrolment.enrol(request.body.token, request.body.csr, request.ip),
  );

  app.post<{ Body: { csr: string } }>(
    '/device/certificate',
    {
      config: { public: true },
      schema: {
        tags: ['devices'],
        summary: "Renew the calling device's certificate (mTLS with its current certificate) for a new key",
        body: Type.Object({ csr: Csr }, { additionalProperties: false }),
        response: { 200: Type.Ref('IssuedCertificate'), 400: Type.Ref('ErrorBody'), 401: Type.Ref('ErrorBody') },
      },
    },
    async (request) => {
      const peer = peerCertificate(request);
      if (!peer) throw new VigilError('VIGIL_AUTH_REQUIRED', 'renewal needs the current device certificate (mTLS)');
      const device = await o.devices.verifyCertificate(peer);
      return o.enrolment.renew(device, request.body.csr, request.ip, peer.raw);
    },
  );
}
