import type { Logger } from '@vigil/shared';
import type { HubEvents } from '../events/hub-events.js';
import { computePerformance, type PerformanceChange, type PerformanceReport } from '../verdicts/performance.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';
import type { NewOpsAlert, OpsAlert, OpsAlertStore } from './ops-alert-store.js';

const METRIC_LABEL: Record<PerformanceChange['metric'], string> = {
  ppv: 'PPV of findings',
  missRate: 'share of studies with a missed finding',
  agreement: "agreement with clinicians' assessments",
  sensitivity: 'sensitivity against malignant outcomes',
};

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);

/** One ops alert per real change in a performance report (pure; the key makes it idempotent). */
export function performanceAlerts(report: PerformanceReport): NewOpsAlert[] {
  return report.changes.map((c) => ({
    alertKey: `performance:${c.metric}:${c.between}:${c.modelName}:${c.clinicId ?? '*'}:${c.from.label}→${c.to.label}`,
    kind: 'performance-change',
    severity: c.direction === 'worse' ? 'warning' : 'info',
    clinicId: c.clinicId,
    summary: `${c.modelName}: ${METRIC_LABEL[c.metric]} ${c.direction === 'worse' ? 'fell' : 'improved'} from ${pct(c.from.value)} (${c.from.label}, n=${c.from.n}) to ${pct(c.to.value)} (${c.to.label}, n=${c.to.n})${c.clinicId ? ` at ${c.clinicId}` : ''}`,
    details: { ...c },
  }));
}

/**
 * Looks at the real-world performance figures now and then and raises an ops alert for each change
 * the intervals say is real. Runs on one replica at a time (the caller checks its lease).
 */
export class PerformanceWatch {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<OpsAlert[]> | undefined;

  constructor(
    private readonly o: {
      verdicts: VerdictStore;
      alerts: OpsAlertStore;
      events?: HubEvents;
      logger: Logger;
      intervalMs: number;
      minSamples: number;
      /** Whether this replica does singleton work now. */
      leader: () => boolean;
    },
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.o.leader())
        void this.check().catch((error: Error) => this.o.logger.warn({ err: error.message }, 'performance watch failed'));
    }, this.o.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }

  /** Computes the figures and raises what is new; returns the alerts raised now. */
  check(): Promise<OpsAlert[]> {
    this.running ??= (async () => {
      try {
        const report = computePerformance(await this.o.verdicts.reviewFacts({}), { minSamples: this.o.minSamples });
        const raised = await this.o.alerts.raise(performanceAlerts(report));
        for (const a of raised) {
          this.o.logger.warn({ alertKey: a.alertKey, clinicId: a.clinicId }, a.summary);
          this.o.events?.emit({
            type: 'ops-alert',
            alertKey: a.alertKey,
            severity: a.severity,
            clinicId: a.clinicId,
            summary: a.summary,
          });
        }
        return raised;
      } finally {
        this.running = undefined;
      }
    })();
    return this.running;
  }
}
