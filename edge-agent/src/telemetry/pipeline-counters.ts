/** Counters the pipeline stages bump and the telemetry sampler reads. */
export class PipelineCounters {
  received = 0;
  processed = 0;
  failed = 0;
  quarantined = 0;
  duplicates = 0;
  queueDepth = 0;
  inferenceProvider: string | undefined;
  inferenceCpuReason: string | undefined;
  private latencies: number[] = [];

  recordLatency(ms: number): void {
    this.latencies.push(ms);
    if (this.latencies.length > 2048) this.latencies = this.latencies.slice(-1024);
  }

  /** Percentiles of the latencies recorded since the last call, then forgets them. */
  takeLatencyPercentiles(): { p50: number; p95: number } | undefined {
    if (this.latencies.length === 0) return undefined;
    const sorted = [...this.latencies].sort((a, b) => a - b);
    this.latencies = [];
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
    return { p50: at(0.5), p95: at(0.95) };
  }
}
