import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { evaluateGates, p95, populationStabilityIndex } from '../src/rollout/health-gates.js';
import { DEFAULT_WAVES, formatWaves, parseWaves, planWaves } from '../src/rollout/rollout-planner.js';
import { nextStep } from '../src/rollout/rollout-step.js';
import type { GateFigure, GateThresholds, RolloutDevice, RolloutRecord } from '../src/rollout/rollout-store.js';

const devices = (n: number) => Array.from({ length: n }, (_, i) => `edge-${String(i).padStart(3, '0')}`);

describe('wave planning', () => {
  it('plans 1 device → 10 % → 50 % → 100 % and drops waves that add nobody', () => {
    assert.deepEqual(
      planWaves('r1', devices(10), DEFAULT_WAVES).map((w) => w.length),
      [1, 4, 5],
    );
    assert.deepEqual(
      planWaves('r1', devices(200), DEFAULT_WAVES).map((w) => w.length),
      [1, 19, 80, 100],
    );
    assert.deepEqual(
      planWaves('r1', devices(1), DEFAULT_WAVES).map((w) => w.length),
      [1],
    );
    assert.deepEqual(planWaves('r1', [], DEFAULT_WAVES), []);
  });

  it('puts every device in exactly one wave, the last wave takes the rest, and the canary differs per rollout', () => {
    const all = devices(37);
    const waves = planWaves('r1', all, [{ devices: 2 }, { percent: 30 }]);
    assert.deepEqual(waves.flat().sort(), all);
    assert.equal(waves.at(-1)?.length, 37 - Math.ceil(37 * 0.3));
    const canaries = new Set(['a', 'b', 'c', 'd', 'e'].map((id) => planWaves(id, all, DEFAULT_WAVES)[0]?.[0]));
    assert.ok(canaries.size > 1);
    assert.deepEqual(planWaves('r1', all, DEFAULT_WAVES), planWaves('r1', [...all].reverse(), DEFAULT_WAVES), 'deterministic');
  });

  it('parses and prints wave specs', () => {
    assert.deepEqual(parseWaves('1, 10%,50%,100%'), DEFAULT_WAVES);
    assert.equal(formatWaves(DEFAULT_WAVES), '1, 10%, 50%, 100%');
    assert.throws(() => parseWaves('1,ten'), /neither a device count nor a percentage/);
  });
});

describe('health gates', () => {
  const t: GateThresholds = {
    maxInstallFailures: 0,
    maxErrorRate: 0.05,
    maxP95LatencyMs: 500,
    maxPsi: 0.25,
    minSamples: 20,
    minVerdicts: 0,
  };
  const uniform = (n: number, lo: number, hi: number) => Array.from({ length: n }, (_, i) => lo + ((hi - lo) * (i + 0.5)) / n);

  it('measures drift with the population stability index', () => {
    assert.ok(populationStabilityIndex(uniform(200, 0, 1), uniform(300, 0, 1)) < 0.01);
    assert.ok(populationStabilityIndex(uniform(200, 0.1, 0.5), uniform(200, 0.5, 0.9)) > 5);
    // A modest shift: 10 % of the mass moves one bin up.
    const shifted = uniform(200, 0, 1).map((v, i) => (i % 10 === 0 ? Math.min(0.99, v + 0.1) : v));
    assert.ok(populationStabilityIndex(uniform(200, 0, 1), shifted) < 0.1);
    assert.ok(Number.isNaN(populationStabilityIndex([], [0.5])));
  });

  it('computes p95 by nearest rank', () => {
    assert.equal(p95(Array.from({ length: 100 }, (_, i) => i + 1)), 95);
    assert.equal(p95([7]), 7);
  });

  it('passes a healthy wave, fails each gate past its threshold, and waits for enough data', () => {
    const healthy = evaluateGates(
      {
        installFailures: 0,
        errorRate: 0.01,
        latenciesMs: uniform(40, 100, 300),
        candidateScores: uniform(40, 0, 1),
        baselineScores: uniform(40, 0, 1),
      },
      t,
    );
    assert.deepEqual(
      healthy.map((g) => g.status),
      ['pass', 'pass', 'pass', 'pass'],
    );
    const bad = evaluateGates(
      {
        installFailures: 1,
        errorRate: 0.2,
        latenciesMs: uniform(40, 400, 900),
        candidateScores: uniform(40, 0.6, 1),
        baselineScores: uniform(40, 0, 0.4),
      },
      t,
    );
    assert.deepEqual(
      bad.map((g) => g.status),
      ['fail', 'fail', 'fail', 'fail'],
    );
    const early = evaluateGates(
      { installFailures: 0, errorRate: null, latenciesMs: [900], candidateScores: [0.9], baselineScores: [0.1] },
      t,
    );
    assert.deepEqual(
      early.map((g) => g.status),
      ['pass', 'waiting', 'waiting', 'waiting'],
    );
  });
});

describe('rollout steps', () => {
  const spec: RolloutRecord['spec'] = {
    cohort: { clinics: [], tags: [] },
    waves: DEFAULT_WAVES,
    bakeS: 60,
    gates: { maxInstallFailures: 0, maxErrorRate: 0.05, maxP95LatencyMs: 500, maxPsi: 0.25, minSamples: 0, minVerdicts: 0 },
    onTrip: 'rollback',
  };
  const rollout = (over: Partial<RolloutRecord> = {}): RolloutRecord => ({
    rolloutId: 'r1',
    model: { name: 'm', version: '2.0.0' },
    mode: 'active',
    spec,
    state: 'running',
    currentWave: 0,
    waveStartedAt: '2026-01-01T00:00:00.000Z',
    reason: null,
    gates: [],
    createdBy: 'ops',
    createdAt: '2026-01-01T00:00:00.000Z',
    updatedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: null,
    ...over,
  });
  const device = (id: string, wave: number, state: RolloutDevice['state'], at = '2026-01-01T00:00:10.000Z'): RolloutDevice => ({
    rolloutId: 'r1',
    deviceId: id,
    clinicId: 'c',
    wave,
    previous: { name: 'm', version: '1.0.0' },
    state,
    reason: null,
    baseline: null,
    updatedAt: at,
  });
  const passing: GateFigure[] = [{ gate: 'install-failures', value: 0, threshold: 0, status: 'pass', samples: 0 }];
  const t0 = Date.parse('2026-01-01T00:00:10.000Z');

  it('waits while the wave installs, then bakes, then advances and completes', () => {
    const devs = [device('a', 0, 'desired'), device('b', 1, 'pending')];
    assert.equal(nextStep({ rollout: rollout(), devices: devs, gates: passing, waveCount: 2, nowMs: t0 }).kind, 'wait');
    const installed = [device('a', 0, 'installed'), device('b', 1, 'pending')];
    const baking = nextStep({ rollout: rollout(), devices: installed, gates: passing, waveCount: 2, nowMs: t0 + 30_000 });
    assert.deepEqual(baking, { kind: 'wait', why: 'baking, 30 s left' });
    assert.deepEqual(nextStep({ rollout: rollout(), devices: installed, gates: passing, waveCount: 2, nowMs: t0 + 60_000 }), {
      kind: 'advance',
      toWave: 1,
    });
    const last = rollout({ currentWave: 1 });
    const all = [device('a', 0, 'installed'), device('b', 1, 'installed')];
    assert.deepEqual(nextStep({ rollout: last, devices: all, gates: passing, waveCount: 2, nowMs: t0 + 120_000 }), {
      kind: 'complete',
    });
  });

  it('trips on a failing gate, naming it, even mid-install', () => {
    const gates: GateFigure[] = [{ gate: 'score-drift', value: 0.8, threshold: 0.25, status: 'fail', samples: 40 }];
    assert.deepEqual(nextStep({ rollout: rollout(), devices: [device('a', 0, 'desired')], gates, waveCount: 2, nowMs: t0 }), {
      kind: 'trip',
      reason: 'score-drift 0.8 > 0.25',
    });
  });

  it('does not move while paused, and finishes a rollback when every updated device is back', () => {
    assert.equal(
      nextStep({ rollout: rollout({ state: 'paused' }), devices: [], gates: passing, waveCount: 2, nowMs: t0 }).kind,
      'wait',
    );
    const back = rollout({ state: 'rolling-back', currentWave: 1 });
    const mixed = [device('a', 0, 'rolled-back'), device('b', 1, 'rolling-back'), device('c', 2, 'pending')];
    assert.equal(nextStep({ rollout: back, devices: mixed, gates: passing, waveCount: 3, nowMs: t0 }).kind, 'wait');
    const done = [device('a', 0, 'rolled-back'), device('b', 1, 'rolled-back'), device('c', 2, 'pending')];
    assert.deepEqual(nextStep({ rollout: back, devices: done, gates: passing, waveCount: 3, nowMs: t0 }), {
      kind: 'rolled-back',
    });
  });
});
