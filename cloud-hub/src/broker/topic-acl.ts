import { DEVICE_PUBLISHES, DEVICE_SUBSCRIBES, type DeviceAddress, devicePrefix, parseTopic } from '@vigil/shared';

/**
 * Topic ACL for devices: publish only its own results/telemetry/status/model-reported, subscribe only
 * to its own model/desired. No wildcards for devices, so one device can never read another's data.
 */
export function canDevicePublish(device: DeviceAddress, topic: string): boolean {
  if (!topic.startsWith(devicePrefix(device))) return false;
  try {
    return DEVICE_PUBLISHES.includes(parseTopic(topic).kind);
  } catch {
    return false;
  }
}

export function canDeviceSubscribe(device: DeviceAddress, filter: string): boolean {
  if (filter.includes('+') || filter.includes('#') || filter.startsWith('$')) return false;
  if (!filter.startsWith(devicePrefix(device))) return false;
  try {
    return DEVICE_SUBSCRIBES.includes(parseTopic(filter).kind);
  } catch {
    return false;
  }
}
