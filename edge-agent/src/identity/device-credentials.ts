import { createLogger, type Logger } from '@vigil/shared';
import { type EdgeConfig, enrolmentToken, mqttPassword } from '../config.js';
import { type DeviceHttp, passwordHttp } from './device-http.js';
import { DeviceIdentity } from './device-identity.js';

export interface DeviceCredentials {
  identity: DeviceIdentity;
  /** Certificate once enrolled (or about to enrol with a configured token); the password otherwise. */
  usesCertificate: boolean;
  /** The token to enrol with at start ('' when enrolled or none configured). */
  pendingToken: string;
  http: DeviceHttp;
}

/** How this device proves who it is, from its config and what it already holds on disk. */
export function deviceCredentials(config: EdgeConfig, logger: Logger = createLogger('vigil-edge')): DeviceCredentials {
  const identity = new DeviceIdentity({
    address: { clinicId: config.clinicId, deviceId: config.deviceId },
    dataDir: config.dataDir,
    hubUrl: config.hubUrl,
    hubCaFile: config.identity.hubCaFile || config.mqtt.caFile || undefined,
    renewAt: config.identity.renewAt,
    logger,
  });
  identity.recover();
  const token = identity.enrolled ? '' : enrolmentToken(config);
  const usesCertificate = identity.enrolled || token !== '';
  return {
    identity,
    usesCertificate,
    pendingToken: token,
    http: usesCertificate ? identity : passwordHttp(config.mqtt.username || config.deviceId, mqttPassword(config)),
  };
}

/** The device's HTTP credentials (CLI commands that call the hub). */
export function deviceHttp(config: EdgeConfig): DeviceHttp {
  return deviceCredentials(config).http;
}
