import { computePerformance, type PerformanceChange, type PerformanceReport } from '../verdicts/performance.js';
import type { VerdictStore } from '../verdicts/verdict-store.js';
import type { NewOpsAlert } from './ops-alert-store.js';
import { PeriodicWatch, type PeriodicWatchOptions } from './periodic-watch.js';

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
export class PerformanceWatch extends PeriodicWatch {
  constructor(
    private readonly o: PeriodicWatchOptions & {
      verdicts: VerdictStore;
      minSamples: number;
    },
  ) {
    super(o, 'performance watch');
  }

  protected async findAlerts(): Promise<NewOpsAlert[]> {
    return performanceAlerts(computePerformance(await this.o.verdicts.reviewFacts({}), { minSamples: this.o.minSamples }));
  }
}
