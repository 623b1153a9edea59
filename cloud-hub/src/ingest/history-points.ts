import type { ResultMessage, TelemetryMessage } from '@vigil/shared';
import type { HistoryPoint } from '../history/history-store.js';

function nsOf(iso: string): bigint {
  return BigInt(Date.parse(iso)) * 1_000_000n;
}

/**
 * Two results from one device in the same millisecond must not overwrite each other in a time-series
 * store keyed by (series, time), yet a redelivered result must land on the same point. A
 * sub-millisecond offset derived from the message id gives both.
 */
export function subMillisecondOffset(messageId: string): bigint {
  // FNV-1a: deterministic and well spread; no need for a cryptographic hash on the hot path.
  let hash = 0x811c9dc5;
  for (let i = 0; i < messageId.length; i++) {
    hash ^= messageId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return BigInt(hash % 1_000_000);
}

export function telemetryPoints(t: TelemetryMessage): HistoryPoint[] {
  const tags = { clinic: t.clinicId, device: t.deviceId };
  const fields: Record<string, number> = {
    cpu_utilization_pct: t.cpu.utilizationPct,
    cpu_process_pct: t.cpu.processPct,
    load1: t.cpu.load1,
    memory_available_bytes: t.memory.availableBytes,
    process_rss_bytes: t.memory.processRssBytes,
    disk_free_bytes: t.disk.freeBytes,
    pipeline_received: t.pipeline.received,
    pipeline_processed: t.pipeline.processed,
    pipeline_failed: t.pipeline.failed,
    pipeline_quarantined: t.pipeline.quarantined,
    queue_depth: t.pipeline.queueDepth,
    outbox_depth: t.outbox.depth,
    outbox_bytes: t.outbox.bytes,
    outbox_oldest_age_s: t.outbox.oldestAgeS,
    outbox_evicted_telemetry: t.outbox.evictedTelemetry,
  };
  if (t.pipeline.latencyP50Ms !== undefined) fields.latency_p50_ms = t.pipeline.latencyP50Ms;
  if (t.pipeline.latencyP95Ms !== undefined) fields.latency_p95_ms = t.pipeline.latencyP95Ms;
  for (const gpu of t.gpus) {
    fields[`gpu${gpu.index}_utilization_pct`] = gpu.utilizationPct;
    fields[`gpu${gpu.index}_memory_used_bytes`] = gpu.memoryUsedBytes;
    if (gpu.temperatureC !== undefined) fields[`gpu${gpu.index}_temperature_c`] = gpu.temperatureC;
  }
  return [{ measurement: 'device_telemetry', tags, fields, timestampNs: nsOf(t.sampledAt) }];
}

/** Per-inference metrics for fleet health and model-drift gates. No patient key: it is not a tag. */
export function resultPoints(r: ResultMessage): HistoryPoint[] {
  return [
    {
      measurement: 'inference',
      tags: {
        clinic: r.clinicId,
        device: r.deviceId,
        model: r.model.name,
        model_version: r.model.version,
        shadow: r.shadow ? 'true' : 'false',
      },
      fields: {
        score: r.score,
        findings: r.findings.length,
        decode_ms: r.timingsMs.decode,
        preprocess_ms: r.timingsMs.preprocess,
        infer_ms: r.timingsMs.infer,
        total_ms: r.timingsMs.decode + r.timingsMs.preprocess + r.timingsMs.infer,
      },
      timestampNs: nsOf(r.createdAt) + subMillisecondOffset(r.messageId),
    },
  ];
}
