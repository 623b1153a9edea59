import type { ModelReportedMessage, TelemetryMessage } from '@vigil/shared';

export interface DeviceRecord {
  clinicId: string;
  deviceId: string;
  passwordHash: string;
  tags: string[];
  createdAt: string;
  revokedAt: string | null;
}

export interface DeviceState {
  clinicId: string;
  deviceId: string;
  status: 'online' | 'offline' | 'unknown';
  statusAt: string | null;
  agentVersion: string | null;
  /** The model the device said it runs in its latest status. */
  model: { name: string; version: string } | null;
  lastSeenAt: string | null;
  lastTelemetry: TelemetryMessage | null;
  modelReported: ModelReportedMessage | null;
}

/** Devices and what they last said: the registry's and the fleet pages' part of the state. */
export interface DeviceStore {
  addDevice(device: Omit<DeviceRecord, 'createdAt' | 'revokedAt'>): Promise<DeviceRecord>;
  getDevice(deviceId: string): Promise<DeviceRecord | undefined>;
  listDevices(): Promise<DeviceRecord[]>;
  revokeDevice(deviceId: string): Promise<boolean>;
  listDeviceStates(): Promise<DeviceState[]>;
}
