import { VigilError } from './errors.js';
import { isValidId } from './ids.js';

export const TOPIC_ROOT = 'vigil/v1';

export const TOPIC_KINDS = ['results', 'telemetry', 'status', 'model/desired', 'model/reported', 'receipts'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

/** Which side publishes each kind; the broker's ACL enforces it. */
export const DEVICE_PUBLISHES: readonly TopicKind[] = ['results', 'telemetry', 'status', 'model/reported'];
/** `receipts`: the hub's end-to-end confirmations of committed results (external-broker mode). */
export const DEVICE_SUBSCRIBES: readonly TopicKind[] = ['model/desired', 'receipts'];

export interface DeviceAddress {
  clinicId: string;
  deviceId: string;
}

export interface ParsedTopic extends DeviceAddress {
  kind: TopicKind;
}

export function topicFor(address: DeviceAddress, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${address.clinicId}/${address.deviceId}/${kind}`;
}

export function devicePrefix(address: DeviceAddress): string {
  return `${TOPIC_ROOT}/${address.clinicId}/${address.deviceId}/`;
}

/** Hub-side subscription filter for one kind across the fleet. */
export function fleetFilter(kind: TopicKind): string {
  return `${TOPIC_ROOT}/+/+/${kind}`;
}

/** MQTT 5 shared subscription so several hub replicas split the fleet's messages. */
export function sharedFleetFilter(group: string, kind: TopicKind): string {
  return `$share/${group}/${fleetFilter(kind)}`;
}

export function parseTopic(topic: string): ParsedTopic {
  const parts = topic.split('/');
  const [root, version, clinicId, deviceId, ...rest] = parts;
  const kind = rest.join('/');
  if (
    `${root}/${version}` !== TOPIC_ROOT ||
    clinicId === undefined ||
    deviceId === undefined ||
    !isValidId(clinicId) ||
    !isValidId(deviceId) ||
    !(TOPIC_KINDS as readonly string[]).includes(kind)
  ) {
    throw new VigilError(
      'VIGIL_TOPIC_INVALID',
      `topic "${topic.slice(0, 200)}" is not ${TOPIC_ROOT}/{clinicId}/{deviceId}/{kind}`,
    );
  }
  return { clinicId, deviceId, kind: kind as TopicKind };
}
