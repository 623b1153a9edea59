import type { StoredResult } from '../results/result-store.js';
import type { ReviewFacts } from './verdict-store.js';
import {
  type AssessmentValue,
  biradsPositive,
  type FindingVerdictValue,
  type MissedFindingValue,
  type OutcomeValue,
  type VerdictRecord,
} from './verdict-types.js';

/**
 * Real-world performance of each model version from clinicians' verdicts: pure arithmetic over the
 * facts the store returns (no I/O), so the API, the CSV export and the rollout gate share it.
 *
 * - PPV: confirmed / (confirmed + dismissed) of the model's findings ("uncertain" is counted, not scored).
 * - Miss rate: reviewed studies with a missed finding (not withdrawn) / reviewed studies. A study is
 *   reviewed when a clinician judged a finding, added a missed one or gave an assessment.
 * - Agreement: studies where the model's call (any finding) matches the clinician's assessment
 *   (BI-RADS 0, 4, 5, 6 positive) / assessed studies.
 * - Sensitivity: malignant outcomes where the model reported a finding (on the outcome's side when
 *   known) / malignant outcomes.
 * Every figure carries its sample size and a 95 % Wilson score interval.
 */

export interface Proportion {
  k: number;
  n: number;
  /** k / n; null when n is 0. */
  value: number | null;
  low: number | null;
  high: number | null;
}

export const PERFORMANCE_METRICS = ['ppv', 'missRate', 'agreement', 'sensitivity'] as const;
export type PerformanceMetric = (typeof PERFORMANCE_METRICS)[number];

interface Counts {
  confirmed: number;
  dismissed: number;
  uncertain: number;
  /** Findings no clinician has judged yet. */
  unjudged: number;
  reviewedStudies: number;
  studiesWithMiss: number;
  assessed: number;
  agreed: number;
  malignant: number;
  detected: number;
}

export interface PerformanceRow extends Counts {
  modelName: string;
  modelVersion: string;
  /** null: every clinic in view. */
  clinicId: string | null;
  /** null: every device. */
  deviceId: string | null;
  /** YYYY-MM of the results; null: every month. */
  month: string | null;
  ppv: Proportion;
  missRate: Proportion;
  agreement: Proportion;
  sensitivity: Proportion;
}

export interface CalibrationBin {
  /** Score range [from, to). */
  from: number;
  to: number;
  /** Mean model score of the judged findings in the bin (null when none). */
  meanScore: number | null;
  /** Share of the bin's judged findings that clinicians confirmed. */
  confirmed: Proportion;
}

export interface PerformanceChange {
  metric: PerformanceMetric;
  /** A new version against the one before it (same clinic), or a month against the month before. */
  between: 'versions' | 'months';
  modelName: string;
  clinicId: string | null;
  from: { label: string } & Proportion;
  to: { label: string } & Proportion;
  direction: 'better' | 'worse';
}

export interface PerformanceReport {
  /** model version × clinic × device × month */
  rows: PerformanceRow[];
  /** model version × clinic (every device and month) */
  byClinic: PerformanceRow[];
  /** model version × month (every clinic in view): the charts over time */
  byMonth: PerformanceRow[];
  /** model version (every clinic in view, every month) */
  byVersion: PerformanceRow[];
  calibration: { modelName: string; modelVersion: string; bins: CalibrationBin[] }[];
  /** Changes the intervals say are real (disjoint 95 % intervals, each side at least `minSamples`). */
  changes: PerformanceChange[];
}

const Z = 1.959964;

/** The Wilson score interval for k successes in n trials (95 %). */
export function wilson(k: number, n: number): Proportion {
  if (n === 0) return { k, n, value: null, low: null, high: null };
  const p = k / n;
  const z2 = Z * Z;
  const centre = (p + z2 / (2 * n)) / (1 + z2 / n);
  const half = (Z * Math.sqrt((p * (1 - p)) / n + z2 / (4 * n * n))) / (1 + z2 / n);
  // At k = 0 and k = n the bounds are exactly 0 and 1; floating point would leave them a hair inside.
  return {
    k,
    n,
    value: p,
    low: k === 0 ? 0 : Math.max(0, centre - half),
    high: k === n ? 1 : Math.min(1, centre + half),
  };
}

function zero(): Counts {
  return {
    confirmed: 0,
    dismissed: 0,
    uncertain: 0,
    unjudged: 0,
    reviewedStudies: 0,
    studiesWithMiss: 0,
    assessed: 0,
    agreed: 0,
    malignant: 0,
    detected: 0,
  };
}

function add(into: Counts, c: Counts): void {
  for (const key of Object.keys(into) as (keyof Counts)[]) into[key] += c[key];
}

interface Key {
  modelName: string;
  modelVersion: string;
  clinicId: string | null;
  deviceId: string | null;
  month: string | null;
}

function keyString(k: Key): string {
  return JSON.stringify([k.modelName, k.modelVersion, k.clinicId, k.deviceId, k.month]);
}

function finish(key: Key, c: Counts): PerformanceRow {
  return {
    ...key,
    ...c,
    ppv: wilson(c.confirmed, c.confirmed + c.dismissed),
    missRate: wilson(c.studiesWithMiss, c.reviewedStudies),
    agreement: wilson(c.agreed, c.assessed),
    sensitivity: wilson(c.detected, c.malignant),
  };
}

function keyOf(r: StoredResult): Key {
  return {
    modelName: r.model.name,
    modelVersion: r.model.version,
    clinicId: r.clinicId,
    deviceId: r.deviceId,
    month: r.createdAt.slice(0, 7),
  };
}

/** Whether the model reported a finding in these results (on one side, when given). */
function reported(results: readonly StoredResult[], laterality?: 'L' | 'R'): boolean {
  return results.some((r) => r.findings.length > 0 && (!laterality || r.laterality === laterality));
}

export interface PerformanceOptions {
  /** Fewest samples on each side before a change can count as real (default 20). */
  minSamples?: number;
  /** Include shadow results (a candidate's) as their own version rows (default false). */
  includeShadow?: boolean;
}

type Bucket = (key: Key) => Counts;
type Calibration = { modelName: string; modelVersion: string; n: number[]; k: number[]; sum: number[] };

/** Findings: PPV and calibration, attributed to the result that reported them. */
function countFindings(
  results: readonly StoredResult[],
  findingVerdicts: ReadonlyMap<string, FindingVerdictValue>,
  bucket: Bucket,
): Map<string, Calibration> {
  const calibration = new Map<string, Calibration>();
  for (const r of results) {
    const counts = bucket(keyOf(r));
    for (const [i, f] of r.findings.entries()) {
      const v = findingVerdicts.get(`${r.messageId}:${i}`);
      if (!v) {
        counts.unjudged++;
        continue;
      }
      counts[v.verdict]++;
      if (v.verdict === 'uncertain') continue;
      const calKey = `${r.model.name}\u0000${r.model.version}`;
      let cal = calibration.get(calKey);
      if (!cal) {
        cal = {
          modelName: r.model.name,
          modelVersion: r.model.version,
          n: Array(10).fill(0),
          k: Array(10).fill(0),
          sum: Array(10).fill(0),
        };
        calibration.set(calKey, cal);
      }
      const bin = Math.min(9, Math.floor(f.score * 10));
      cal.n[bin] = (cal.n[bin] ?? 0) + 1;
      cal.sum[bin] = (cal.sum[bin] ?? 0) + f.score;
      if (v.verdict === 'confirmed') cal.k[bin] = (cal.k[bin] ?? 0) + 1;
    }
  }
  return calibration;
}

/** Studies: misses, agreement, sensitivity, attributed per model version to its first result. */
function countStudies(
  results: readonly StoredResult[],
  studyVerdicts: ReadonlyMap<string, VerdictRecord[]>,
  bucket: Bucket,
): void {
  const byStudyVersion = new Map<string, StoredResult[]>();
  for (const r of results) {
    const id = JSON.stringify([r.studyKey, r.model.name, r.model.version]);
    const list = byStudyVersion.get(id) ?? [];
    list.push(r);
    byStudyVersion.set(id, list);
  }
  for (const studyResults of byStudyVersion.values()) {
    const first = studyResults[0] as StoredResult;
    const verdicts = studyVerdicts.get(first.studyKey) ?? [];
    const counts = bucket(keyOf(first));
    const reviewed = verdicts.some((v) => v.kind === 'finding' || v.kind === 'missed' || v.kind === 'assessment');
    if (reviewed) {
      counts.reviewedStudies++;
      if (verdicts.some((v) => v.kind === 'missed' && !(v.value as MissedFindingValue).withdrawn)) counts.studiesWithMiss++;
    }
    const assessment = verdicts.find((v) => v.kind === 'assessment');
    if (assessment) {
      counts.assessed++;
      if (biradsPositive((assessment.value as AssessmentValue).birads) === reported(studyResults)) counts.agreed++;
    }
    for (const outcome of verdicts) {
      if (outcome.kind !== 'outcome' || (outcome.value as OutcomeValue).outcome !== 'malignant') continue;
      counts.malignant++;
      if (reported(studyResults, (outcome.value as OutcomeValue).laterality)) counts.detected++;
    }
  }
}

/** Rows of one series, in order, whose intervals do not overlap from one to the next: changes. */
function changesAlong(
  between: PerformanceChange['between'],
  series: readonly PerformanceRow[],
  label: (r: PerformanceRow) => string,
  minSamples: number,
): PerformanceChange[] {
  const changes: PerformanceChange[] = [];
  for (let i = 1; i < series.length; i++) {
    const a = series[i - 1] as PerformanceRow;
    const b = series[i] as PerformanceRow;
    for (const metric of PERFORMANCE_METRICS) {
      const x = a[metric];
      const y = b[metric];
      if (x.n < minSamples || y.n < minSamples || x.low === null || y.low === null) continue;
      if ((x.high as number) >= y.low && (y.high as number) >= x.low) continue;
      const up = (y.value as number) > (x.value as number);
      // A higher miss rate is worse; a higher PPV, agreement or sensitivity is better.
      const direction = up === (metric !== 'missRate') ? 'better' : 'worse';
      changes.push({
        metric,
        between,
        modelName: b.modelName,
        clinicId: b.clinicId,
        from: { label: label(a), ...x },
        to: { label: label(b), ...y },
        direction,
      });
    }
  }
  return changes;
}

function groups<T>(list: readonly PerformanceRow[], by: (r: PerformanceRow) => T): PerformanceRow[][] {
  const out = new Map<string, PerformanceRow[]>();
  for (const r of list) {
    const id = JSON.stringify(by(r));
    out.set(id, [...(out.get(id) ?? []), r]);
  }
  return [...out.values()];
}

export function computePerformance(facts: ReviewFacts, options: PerformanceOptions = {}): PerformanceReport {
  const minSamples = options.minSamples ?? 20;
  const results = facts.results.filter((r) => options.includeShadow || !r.shadow);
  const findingVerdicts = new Map<string, FindingVerdictValue>();
  const studyVerdicts = new Map<string, VerdictRecord[]>();
  for (const v of facts.verdicts) {
    if (v.kind === 'finding') findingVerdicts.set(`${v.resultId}:${v.findingIndex}`, v.value as FindingVerdictValue);
    const list = studyVerdicts.get(v.studyKey) ?? [];
    list.push(v);
    studyVerdicts.set(v.studyKey, list);
  }

  const finest = new Map<string, { key: Key; counts: Counts }>();
  const bucket: Bucket = (key) => {
    const id = keyString(key);
    let entry = finest.get(id);
    if (!entry) {
      entry = { key, counts: zero() };
      finest.set(id, entry);
    }
    return entry.counts;
  };
  const calibration = countFindings(results, findingVerdicts, bucket);
  countStudies(results, studyVerdicts, bucket);

  const rollup = (project: (k: Key) => Key): PerformanceRow[] => {
    const out = new Map<string, { key: Key; counts: Counts }>();
    for (const { key, counts } of finest.values()) {
      const k = project(key);
      const id = keyString(k);
      let entry = out.get(id);
      if (!entry) {
        entry = { key: k, counts: zero() };
        out.set(id, entry);
      }
      add(entry.counts, counts);
    }
    return [...out.values()]
      .map(({ key, counts }) => finish(key, counts))
      .sort((a, b) => keyString(a).localeCompare(keyString(b)));
  };

  const rows = rollup((k) => k);
  const byClinic = rollup((k) => ({ ...k, deviceId: null, month: null }));
  const byMonth = rollup((k) => ({ ...k, clinicId: null, deviceId: null }));
  const byVersion = rollup((k) => ({ ...k, clinicId: null, deviceId: null, month: null }));

  // Version order: by each version's first result.
  const firstSeen = new Map<string, string>();
  for (const r of results) {
    const id = `${r.model.name}\u0000${r.model.version}`;
    const seen = firstSeen.get(id);
    if (!seen || r.createdAt < seen) firstSeen.set(id, r.createdAt);
  }
  const versionOrder = (a: PerformanceRow, b: PerformanceRow) =>
    (firstSeen.get(`${a.modelName}\u0000${a.modelVersion}`) ?? '').localeCompare(
      firstSeen.get(`${b.modelName}\u0000${b.modelVersion}`) ?? '',
    );
  const byClinicMonth = rollup((k) => ({ ...k, deviceId: null }));
  const changes = [
    ...groups(byClinic, (r) => [r.modelName, r.clinicId]).flatMap((series) =>
      changesAlong('versions', [...series].sort(versionOrder), (r) => r.modelVersion, minSamples),
    ),
    ...groups(byClinicMonth, (r) => [r.modelName, r.modelVersion, r.clinicId]).flatMap((series) =>
      changesAlong(
        'months',
        [...series].sort((a, b) => (a.month ?? '').localeCompare(b.month ?? '')),
        (r) => `${r.modelVersion} ${r.month}`,
        minSamples,
      ),
    ),
  ];

  return {
    rows,
    byClinic,
    byMonth,
    byVersion,
    calibration: [...calibration.values()].map((c) => ({
      modelName: c.modelName,
      modelVersion: c.modelVersion,
      bins: c.n.map((n, i) => ({
        from: i / 10,
        to: (i + 1) / 10,
        meanScore: n > 0 ? (c.sum[i] as number) / n : null,
        confirmed: wilson(c.k[i] as number, n),
      })),
    })),
    changes,
  };
}
