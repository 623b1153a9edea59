import { clearlyWorse, type VerdictAgreement } from '../verdicts/verdict-agreement.js';
import type { GateFigure, GateThresholds } from './rollout-store.js';

/**
 * Population stability index of `actual` against `expected` over equal-width score bins in [0, 1]:
 * Σ (a − e) · ln(a / e). Below 0.1 the populations are alike; above 0.25 they have shifted.
 */
export function populationStabilityIndex(expected: readonly number[], actual: readonly number[], bins = 10): number {
  if (expected.length === 0 || actual.length === 0) return Number.NaN;
  const share = (values: readonly number[]) => {
    const counts = new Array<number>(bins).fill(0);
    for (const v of values) {
      const bin = Math.min(bins - 1, Math.max(0, Math.floor(v * bins)));
      counts[bin] = (counts[bin] ?? 0) + 1;
    }
    // A small floor keeps empty bins finite (the usual convention).
    return counts.map((c) => Math.max(c / values.length, 1e-4));
  };
  const e = share(expected);
  const a = share(actual);
  return e.reduce((sum, ei, i) => {
    const ai = a[i] as number;
    return sum + (ai - ei) * Math.log(ai / ei);
  }, 0);
}

export function p95(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.95 * sorted.length) - 1)] as number;
}

export interface GateInputs {
  installFailures: number;
  /** null when no telemetry has arrived since the wave started. */
  errorRate: number | null;
  /** decode + preprocess + infer of each candidate result on updated devices. */
  latenciesMs: readonly number[];
  candidateScores: readonly number[];
  /** The previous model's scores on the same devices (shadow mode: on the same images). */
  baselineScores: readonly number[];
  /** Shadow mode: the candidate scored against clinicians' verdicts on the same images. */
  verdicts?: VerdictAgreement;
}

/** The verdict-agreement gate: the candidate's PPV and miss rate against the active model's. */
function verdictGate(v: VerdictAgreement, t: GateThresholds): GateFigure {
  const round = (n: number | null) => (n === null ? null : Math.round(n * 1000) / 1000);
  const pct = (n: number | null) => (n === null ? '—' : `${(n * 100).toFixed(0)} %`);
  const worse = clearlyWorse(v.candidate, v.active);
  // Specs stored before the gate existed have no minimum: it never holds them.
  const minimum = t.minVerdicts ?? 0;
  return {
    gate: 'verdict-agreement',
    value: round(v.candidate.ppv.value),
    threshold: round(v.active.ppv.value) ?? 0,
    status: worse ? 'fail' : v.images < minimum ? 'waiting' : 'pass',
    samples: v.images,
    detail: worse
      ? `worse than the active model on clinicians' verdicts: ${worse} (${v.images} reviewed images)`
      : `PPV ${pct(v.candidate.ppv.value)} (active ${pct(v.active.ppv.value)}), images with a miss ${pct(v.candidate.missRate.value)} (active ${pct(v.active.missRate.value)}) on ${v.images} reviewed images`,
  };
}

/** The health gates of a wave, each passing, failing or waiting for enough data. */
export function evaluateGates(input: GateInputs, t: GateThresholds): GateFigure[] {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  const enough = input.latenciesMs.length >= t.minSamples;
  const latency = p95(input.latenciesMs);
  const psi = populationStabilityIndex(input.baselineScores, input.candidateScores);
  const driftReady = input.candidateScores.length >= t.minSamples && input.baselineScores.length >= t.minSamples;
  return [
    {
      gate: 'install-failures',
      value: input.installFailures,
      threshold: t.maxInstallFailures,
      status: input.installFailures > t.maxInstallFailures ? 'fail' : 'pass',
      samples: input.installFailures,
    },
    {
      gate: 'error-rate',
      value: input.errorRate === null ? null : round(input.errorRate),
      threshold: t.maxErrorRate,
      status: input.errorRate === null ? 'waiting' : input.errorRate > t.maxErrorRate ? 'fail' : 'pass',
      samples: 0,
    },
    {
      gate: 'p95-latency',
      value: Number.isNaN(latency) ? null : round(latency),
      threshold: t.maxP95LatencyMs,
      status: !Number.isNaN(latency) && latency > t.maxP95LatencyMs && enough ? 'fail' : enough ? 'pass' : 'waiting',
      samples: input.latenciesMs.length,
    },
    {
      gate: 'score-drift',
      value: Number.isNaN(psi) ? null : round(psi),
      threshold: t.maxPsi,
      status: !driftReady ? 'waiting' : psi > t.maxPsi ? 'fail' : 'pass',
      samples: input.candidateScores.length,
    },
    ...(input.verdicts ? [verdictGate(input.verdicts, t)] : []),
  ];
}
