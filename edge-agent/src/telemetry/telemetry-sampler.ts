import os from 'node:os';
import {
  type DeviceAddress,
  encodeMessage,
  type Logger,
  newMessageId,
  TELEMETRY_SCHEMA,
  type TelemetryMessage,
  topicFor,
  VigilError,
} from '@vigil/shared';
import type { Outbox } from '../outbox/outbox.js';
import type { PipelineCounters } from './pipeline-counters.js';
import { type CpuTimes, cpuTimes, diskUsage, readGpus, utilisationBetween } from './system-probe.js';

export interface TelemetrySamplerOptions {
  address: DeviceAddress;
  intervalS: number;
  diskPath: string;
  outbox: Outbox;
  counters: PipelineCounters;
  logger: Logger;
  gpuCommand?: string;
  /** Per-destination PACS delivery state, when results go back to the clinic's PACS. */
  pacs?: () => NonNullable<TelemetryMessage['pacs']>;
  /** The re-identification endpoint's URL, when the clinic runs one. */
  reidUrl?: () => string | undefined;
}

/** Samples device and pipeline health every interval and commits it to the outbox. */
export class TelemetrySampler {
  private timer: NodeJS.Timeout | undefined;
  private lastCpu: CpuTimes = cpuTimes();
  private lastProcessCpu = process.cpuUsage();
  private lastAt = Date.now();

  constructor(private readonly options: TelemetrySamplerOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      this.sampleAndEnqueue().catch((error) =>
        this.options.logger.error({ code: 'VIGIL_INTERNAL', err: String(error) }, 'telemetry sample failed'),
      );
    }, this.options.intervalS * 1000);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async sample(): Promise<TelemetryMessage> {
    const o = this.options;
    const now = Date.now();
    const cpu = cpuTimes();
    const processCpu = process.cpuUsage();
    const elapsedUs = Math.max(1, (now - this.lastAt) * 1000);
    const processPct =
      ((processCpu.user - this.lastProcessCpu.user + processCpu.system - this.lastProcessCpu.system) / elapsedUs) * 100;
    const utilizationPct = utilisationBetween(this.lastCpu, cpu);
    this.lastCpu = cpu;
    this.lastProcessCpu = processCpu;
    this.lastAt = now;
    const [disk, gpus] = await Promise.all([diskUsage(o.diskPath), readGpus(o.gpuCommand)]);
    const outbox = o.outbox.stats();
    const latency = o.counters.takeLatencyPercentiles();
    const reidUrl = o.reidUrl?.();
    return {
      schema: TELEMETRY_SCHEMA,
      messageId: newMessageId(),
      clinicId: o.address.clinicId,
      deviceId: o.address.deviceId,
      sampledAt: new Date(now).toISOString(),
      intervalS: o.intervalS,
      cpu: {
        cores: os.cpus().length,
        utilizationPct,
        load1: os.loadavg()[0] ?? 0,
        processPct: Math.max(0, processPct),
      },
      memory: {
        totalBytes: os.totalmem(),
        availableBytes: os.freemem(),
        processRssBytes: process.memoryUsage.rss(),
      },
      disk: { path: o.diskPath, ...disk },
      gpus,
      pipeline: {
        received: o.counters.received,
        processed: o.counters.processed,
        failed: o.counters.failed,
        quarantined: o.counters.quarantined,
        queueDepth: o.counters.queueDepth,
        ...(o.counters.inferenceProvider ? { inferenceProvider: o.counters.inferenceProvider } : {}),
        ...(o.counters.inferenceCpuReason ? { inferenceCpuReason: o.counters.inferenceCpuReason } : {}),
        ...(latency ? { latencyP50Ms: latency.p50, latencyP95Ms: latency.p95 } : {}),
      },
      outbox: {
        depth: outbox.depth,
        results: outbox.results,
        telemetry: outbox.telemetry,
        bytes: outbox.bytes,
        oldestAgeS: outbox.oldestAgeS,
        evictedTelemetry: outbox.evictedTelemetry,
      },
      ...(o.pacs ? { pacs: o.pacs() } : {}),
      ...(reidUrl ? { reid: { url: reidUrl } } : {}),
    };
  }

  async sampleAndEnqueue(): Promise<TelemetryMessage | undefined> {
    const message = await this.sample();
    try {
      this.options.outbox.enqueue({
        messageId: message.messageId,
        kind: 'telemetry',
        topic: topicFor(this.options.address, 'telemetry'),
        payload: encodeMessage(message),
      });
    } catch (error) {
      if (error instanceof VigilError) {
        this.options.logger.warn({ code: error.code }, error.message);
        return undefined;
      }
      throw error;
    }
    return message;
  }
}
