import {
  type DeviceAddress,
  newMessageId,
  STATUS_SCHEMA,
  type StatusMessage,
  TELEMETRY_SCHEMA,
  type TelemetryMessage,
} from '@vigil/shared';

/** A schema-valid telemetry sample whose figures vary smoothly with `minute`. */
export function telemetrySample(address: DeviceAddress, at: Date, minute: number): TelemetryMessage {
  const wave = Math.sin(minute / 7);
  return {
    schema: TELEMETRY_SCHEMA,
    messageId: newMessageId(),
    ...address,
    sampledAt: at.toISOString(),
    intervalS: 60,
    cpu: { cores: 16, utilizationPct: 35 + 20 * wave, load1: 2 + wave, processPct: 80 + 30 * wave },
    memory: { totalBytes: 64e9, availableBytes: 40e9, processRssBytes: 1.2e9 },
    disk: { path: '/var/lib/vigil', totalBytes: 1e12, freeBytes: 6e11 },
    gpus: [{ index: 0, name: 'NVIDIA A10', utilizationPct: 50 + 30 * wave, memoryUsedBytes: 3e9, memoryTotalBytes: 2.4e10 }],
    pipeline: {
      received: 100 + minute * 4,
      processed: 99 + minute * 4,
      failed: 0,
      quarantined: 1,
      queueDepth: Math.max(0, Math.round(3 + 3 * wave)),
      inferenceProvider: 'cuda',
      latencyP50Ms: 140 + 20 * wave,
      latencyP95Ms: 210 + 40 * wave,
    },
    outbox: {
      depth: Math.max(0, Math.round(2 + 2 * wave)),
      results: 1,
      telemetry: 1,
      bytes: 4096,
      oldestAgeS: 1,
      evictedTelemetry: 0,
    },
  };
}

export function statusMessage(address: DeviceAddress, state: 'online' | 'offline', at = new Date()): StatusMessage {
  return {
    schema: STATUS_SCHEMA,
    messageId: newMessageId(),
    ...address,
    state,
    at: at.toISOString(),
    agentVersion: '0.1.0',
    model: { name: 'vigil-demo', version: '0.2.0' },
  };
}
