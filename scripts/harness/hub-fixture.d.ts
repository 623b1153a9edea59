import { Hub } from '@vigil/cloud-hub';
import { type EdgeConfig } from '@vigil/edge-agent';
export interface TestHub {
  hub: Hub;
  dataDir: string;
  mqttUrl: string;
  httpUrl: string;
  addDevice(clinicId: string, deviceId: string): Promise<string>;
  stop(): Promise<void>;
}
/** An in-process hub on free loopback ports with its own temp data directory. */
export declare function startTestHub(base?: Record<string, unknown>, env?: NodeJS.ProcessEnv): Promise<TestHub>;
/** Environment variables that configure an edge agent for a device (usable for child processes too). */
export declare function edgeEnv(options: {
  clinicId: string;
  deviceId: string;
  password: string;
  mqttUrl: string;
  dataDir: string;
  telemetryIntervalS?: number;
}): Record<string, string>;
export declare function edgeConfig(options: Parameters<typeof edgeEnv>[0], extraEnv?: Record<string, string>): EdgeConfig;
