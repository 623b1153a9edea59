import { join } from 'node:path';
import { Hub, loadHubConfig } from '@vigil/cloud-hub';
import { loadEdgeConfig } from '@vigil/edge-agent';
import { makeTempDir } from './temp-dir.js';
/** An in-process hub on free loopback ports with its own temp data directory. */
export async function startTestHub(base = {}, env = {}) {
  const dir = makeTempDir('hub');
  const config = loadHubConfig(undefined, env, {
    dataDir: join(dir.path, 'hub'),
    http: { port: 0 },
    ...base,
    mqtt: { listen: { port: 0 }, ...(base.mqtt ?? {}) },
  });
  const hub = new Hub(config);
  await hub.start();
  return {
    hub,
    dataDir: config.dataDir,
    mqttUrl: `mqtt://127.0.0.1:${hub.mqttPorts.plain}`,
    httpUrl: `http://127.0.0.1:${hub.httpPort}`,
    addDevice: async (clinicId, deviceId) => (await hub.registry.add({ clinicId, deviceId })).password,
    stop: async () => {
      await hub.stop();
      dir.remove();
    },
  };
}
/** Environment variables that configure an edge agent for a device (usable for child processes too). */
export function edgeEnv(options) {
  return {
    VIGIL_CLINIC_ID: options.clinicId,
    VIGIL_DEVICE_ID: options.deviceId,
    VIGIL_DATA_DIR: options.dataDir,
    VIGIL_MQTT__URL: options.mqttUrl,
    VIGIL_MQTT__PASSWORD: options.password,
    VIGIL_MQTT__RECONNECT_MIN_MS: '100',
    VIGIL_MQTT__RECONNECT_MAX_MS: '1000',
    VIGIL_TELEMETRY__INTERVAL_S: String(options.telemetryIntervalS ?? 3600),
  };
}
export function edgeConfig(options, extraEnv = {}) {
  return loadEdgeConfig(undefined, { ...edgeEnv(options), ...extraEnv });
}
//# sourceMappingURL=hub-fixture.js.map
