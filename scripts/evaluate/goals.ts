// The product's goals for the model and the follow-up alerts, each with its figure, 95 % interval
// and whether the figure meets it, for one held-out cohort. `npm run evaluate -- DIR --alerts`
// prints them; scripts/test/alert-quality.test.ts holds them on a fresh cohort.
import type { AlertEvaluation } from './alert-evaluation.js';
import type { Evaluation } from './evaluate.js';
import { aucInterval, type Interval, roundInterval as rounded, wilson } from './metrics.js';

export interface Goal {
  goal: string;
  /** The figure, with its interval when it is an estimate. */
  figure: Interval | number;
  /** Counts behind the figure (k of n, events over exposure). */
  basis: string;
  met: boolean;
}

/** Precision needed of every alert kind that reaches the inbox (warning and critical). */
export const INBOX_PRECISION = 0.9;
export const GROWTH_RECALL = 0.9;
export const MAX_MEDIAN_SIZE_ERROR_MM = 1.5;
export const MAX_FALSE_ALERTS_PER_PATIENT_YEAR = 1;

export function imageGoals(e: Evaluation): Goal[] {
  return [
    {
      goal: 'image AUC ≥ 0.95',
      figure: rounded(aucInterval(e.imageAuc, e.positiveImages, e.images - e.positiveImages)),
      basis: `${e.images} images, ${e.positiveImages} with findings`,
      met: e.imageAuc >= 0.95,
    },
    {
      goal: 'sensitivity ≥ 0.90 for findings ≥ 5 mm at ≤ 0.5 FP/image',
      figure: rounded(wilson(Math.round(e.sensitivityAt05Fp * e.lesions5mm), e.lesions5mm)),
      basis: `${e.lesions5mm} findings, ${e.falsePositivesPerImageAtThreshold} FP/image at threshold ${e.thresholdAt05Fp}`,
      met: e.sensitivityAt05Fp >= 0.9 && e.falsePositivesPerImageAtThreshold <= 0.5,
    },
  ];
}

export function alertGoals(a: AlertEvaluation): Goal[] {
  const goals: Goal[] = [];
  for (const [kind, f] of Object.entries(a.byLevel.inbox).sort(([x], [y]) => x.localeCompare(y))) {
    goals.push({
      goal: `inbox precision ≥ ${INBOX_PRECISION}: ${kind}`,
      figure: f.precision,
      basis: `${f.correct} of ${f.alerts} right`,
      met: f.precision.value >= INBOX_PRECISION,
    });
  }
  // Reported: in the inbox, or "to review" when only one view shows the growth (ADR 0024); the
  // inbox's own share is given beside it.
  const g = a.recall.growth;
  const count = (i: Interval) => Math.round(i.value * g.events) || 0;
  goals.push({
    goal: `clear growth (≥ 3.5 mm and ≥ 25 %, up to 50 mm) reported ≥ ${GROWTH_RECALL}`,
    figure: g.anyLevel,
    basis: `${count(g.anyLevel)} of ${g.events}; in the inbox ${count(g.inbox)} (${g.inbox.value.toFixed(2)} [${g.inbox.low.toFixed(2)}, ${g.inbox.high.toFixed(2)}])`,
    met: g.events === 0 || g.anyLevel.value >= GROWTH_RECALL,
  });
  const n = a.recall.newFinding;
  const reported = Math.round(n.anyLevel.value * n.events);
  goals.push({
    goal: 'every new finding ≥ 5 mm reported',
    figure: n.anyLevel,
    basis: `${reported} of ${n.events} (${Math.round(n.inbox.value * n.events) || 0} in the inbox)`,
    met: n.events === 0 || reported === n.events,
  });
  const s = a.sizeErrorMm.upTo50;
  goals.push({
    goal: `median size error ≤ ${MAX_MEDIAN_SIZE_ERROR_MM} mm, findings 5–50 mm`,
    figure: s,
    basis: `${s.n} findings; ≤ 30 mm ${a.sizeErrorMm.upTo30.value} mm (${a.sizeErrorMm.upTo30.n})`,
    met: s.value <= MAX_MEDIAN_SIZE_ERROR_MM,
  });
  // The large masses on their own: the overall median hides them (most findings are small).
  const large = a.sizeErrorMm.from30To50;
  goals.push({
    goal: '  … and for 30–50 mm masses alone',
    figure: large,
    basis: `${large.n} findings`,
    met: large.n === 0 || large.value <= MAX_MEDIAN_SIZE_ERROR_MM,
  });
  const wrong = a.alerts.filter((x) => x.level === 'inbox' && !x.correct).length;
  goals.push({
    goal: `≤ ${MAX_FALSE_ALERTS_PER_PATIENT_YEAR} false inbox alert per patient-year`,
    figure: a.falseInboxAlertsPerPatientYear,
    basis: `${wrong} wrong over ${a.patientYears.toFixed(1)} patient-years`,
    met: a.falseInboxAlertsPerPatientYear.value <= MAX_FALSE_ALERTS_PER_PATIENT_YEAR,
  });
  return goals;
}

const fmt = (v: number) =>
  Number.isFinite(v) ? (Math.abs(v) >= 10 ? v.toFixed(1) : v.toFixed(3).replace(/0+$/, '').replace(/\.$/, '')) : '—';

/** One line per goal: ✓/✗, the goal, the figure [interval], the counts behind it. */
export function formatGoals(goals: readonly Goal[]): string {
  return goals
    .map((g) => {
      const figure =
        typeof g.figure === 'number' ? fmt(g.figure) : `${fmt(g.figure.value)} [${fmt(g.figure.low)}, ${fmt(g.figure.high)}]`;
      return `  ${g.met ? '✓' : '✗'} ${g.goal.padEnd(64)} ${figure.padEnd(24)} ${g.basis}`;
    })
    .join('\n');
}
