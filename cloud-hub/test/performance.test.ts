// The performance arithmetic on its own (issue 16): Wilson intervals against published values and
// by simulated coverage, roll-ups that add up, and changes flagged only when the intervals say so.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { StoredResult } from '../src/results/result-store.js';
import { computePerformance, wilson } from '../src/verdicts/performance.js';
import type { VerdictRecord } from '../src/verdicts/verdict-types.js';

/** A small deterministic PRNG (mulberry32) so coverage figures are the same on every run. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function result(
  i: number,
  o: { version: string; clinicId: string; month: string; findings: number; shadow?: boolean },
): StoredResult {
  return {
    schema: 'vigil.result/1',
    messageId: `r-${o.version}-${o.clinicId}-${i}`,
    clinicId: o.clinicId,
    deviceId: `${o.clinicId}-edge`,
    createdAt: `${o.month}-10T10:00:00.000Z`,
    receivedAt: `${o.month}-10T10:00:01.000Z`,
    patientKey: `p-${o.clinicId}-${i}`,
    studyKey: `s-${o.version}-${o.clinicId}-${i}`,
    seriesKey: 'x',
    instanceKey: `i-${i}`,
    studyDate: `${o.month}-10`,
    modality: 'MG',
    laterality: 'L',
    view: 'CC',
    model: { name: 'vigil-demo', version: o.version },
    score: 0.9,
    findings: Array.from({ length: o.findings }, (_, k) => ({
      x: 0.5,
      y: 0.5,
      diameterMm: 8,
      areaMm2: 50,
      score: 0.05 + 0.1 * k,
    })),
    image: { rows: 10, columns: 10, pixelSpacingMm: 0.1 },
    timingsMs: { decode: 0, preprocess: 0, infer: 0 },
    ...(o.shadow ? { shadow: true } : {}),
  };
}

function verdict(r: StoredResult, index: number, confirmed: boolean): VerdictRecord {
  return {
    verdictId: `${r.messageId}-${index}`,
    subject: `finding:${r.messageId}:${index}`,
    kind: 'finding',
    patientKey: r.patientKey,
    studyKey: r.studyKey,
    clinicId: r.clinicId,
    resultId: r.messageId,
    findingIndex: index,
    value: confirmed ? { verdict: 'confirmed' } : { verdict: 'dismissed', reason: 'benign' },
    author: 'dr',
    source: 'api',
    createdAt: r.createdAt,
    supersedes: null,
  };
}

describe('performance arithmetic', () => {
  it('Wilson intervals match published values and cover the true rate about 95 % of the time', () => {
    // Newcombe (1998), Table I: 81/263 → 0.2553–0.3662; 15/148 → 0.0624–0.1605; 0/10 → 0–0.2775.
    const check = (k: number, n: number, low: number, high: number) => {
      const w = wilson(k, n);
      assert.ok(
        Math.abs((w.low as number) - low) < 5e-4 && Math.abs((w.high as number) - high) < 5e-4,
        `${k}/${n}: ${JSON.stringify(w)}`,
      );
    };
    check(81, 263, 0.2553, 0.3662);
    check(15, 148, 0.0624, 0.1605);
    check(0, 10, 0, 0.2775);
    assert.deepEqual(wilson(0, 0), { k: 0, n: 0, value: null, low: null, high: null });
    const random = rng(7);
    for (const [p, n] of [
      [0.8, 30],
      [0.3, 60],
      [0.05, 200],
    ] as const) {
      let covered = 0;
      const runs = 4000;
      for (let run = 0; run < runs; run++) {
        let k = 0;
        for (let i = 0; i < n; i++) if (random() < p) k++;
        const w = wilson(k, n);
        if ((w.low as number) <= p && p <= (w.high as number)) covered++;
      }
      const coverage = covered / runs;
      assert.ok(coverage >= 0.92 && coverage <= 0.985, `p=${p} n=${n}: coverage ${coverage}`);
    }
  });

  it('counts PPV per finding, rolls rows up consistently, bins calibration, and keeps shadow results apart', () => {
    const results = [
      ...Array.from({ length: 6 }, (_, i) => result(i, { version: '1.0.0', clinicId: 'a', month: '2026-01', findings: 2 })),
      ...Array.from({ length: 4 }, (_, i) => result(i, { version: '1.0.0', clinicId: 'b', month: '2026-02', findings: 1 })),
      result(99, { version: '2.0.0', clinicId: 'a', month: '2026-02', findings: 3, shadow: true }),
    ];
    const verdicts = results.flatMap((r) => r.findings.map((_, k) => verdict(r, k, k === 0)));
    const report = computePerformance({ verdicts, results });
    assert.equal(report.byVersion.length, 1, 'shadow results are not counted unless asked');
    const all = report.byVersion[0];
    assert.deepEqual([all?.ppv.k, all?.ppv.n], [10, 16]);
    assert.deepEqual(
      report.byClinic.map((r) => [r.clinicId, r.ppv.k, r.ppv.n]),
      [
        ['a', 6, 12],
        ['b', 4, 4],
      ],
    );
    assert.equal(
      report.rows.reduce((n, r) => n + r.ppv.n, 0),
      16,
      'the finest rows add up to the total',
    );
    const bins = report.calibration[0]?.bins ?? [];
    assert.deepEqual([bins[0]?.confirmed.k, bins[0]?.confirmed.n], [10, 10], 'scores 0.05: all confirmed');
    assert.deepEqual([bins[1]?.confirmed.k, bins[1]?.confirmed.n], [0, 6], 'scores 0.15: all dismissed');
    const withShadow = computePerformance({ verdicts, results }, { includeShadow: true });
    assert.deepEqual(
      withShadow.byVersion.map((r) => [r.modelVersion, r.ppv.k, r.ppv.n]),
      [
        ['1.0.0', 10, 16],
        ['2.0.0', 1, 3],
      ],
    );
  });

  it('flags a change only when the 95 % intervals are disjoint and both sides have enough samples', () => {
    const cohort = (version: string, month: string, confirmedShare: number, n: number) => {
      const results = Array.from({ length: n }, (_, i) => result(i, { version, clinicId: 'a', month, findings: 1 }));
      return { results, verdicts: results.map((r, i) => verdict(r, 0, i < Math.round(confirmedShare * n))) };
    };
    const before = cohort('1.0.0', '2026-01', 0.9, 60);
    const worse = cohort('1.1.0', '2026-02', 0.4, 60);
    const report = computePerformance({
      results: [...before.results, ...worse.results],
      verdicts: [...before.verdicts, ...worse.verdicts],
    });
    const ppv = report.changes.filter((c) => c.metric === 'ppv');
    assert.equal(ppv.length, 1, JSON.stringify(report.changes));
    assert.deepEqual(
      [ppv[0]?.between, ppv[0]?.from.label, ppv[0]?.to.label, ppv[0]?.direction],
      ['versions', '1.0.0', '1.1.0', 'worse'],
    );
    const similar = cohort('1.1.0', '2026-02', 0.85, 60);
    assert.equal(
      computePerformance({
        results: [...before.results, ...similar.results],
        verdicts: [...before.verdicts, ...similar.verdicts],
      }).changes.length,
      0,
      'overlapping intervals: no change',
    );
    const small = cohort('1.1.0', '2026-02', 0.2, 10);
    assert.equal(
      computePerformance({ results: [...before.results, ...small.results], verdicts: [...before.verdicts, ...small.verdicts] })
        .changes.length,
      0,
      'too few verdicts on one side: no change yet',
    );
  });
});

describe('Wilson interval at the edges', () => {
  it('is exactly [0, …] at k = 0 and […, 1] at k = n, so the estimate always lies inside', () => {
    for (const n of [1, 3, 7, 12, 25, 101]) {
      const all = wilson(n, n);
      const none = wilson(0, n);
      assert.equal(all.high, 1, `k = n = ${n}`);
      assert.equal(none.low, 0, `k = 0, n = ${n}`);
      for (let k = 0; k <= n; k++) {
        const w = wilson(k, n);
        assert.ok((w.low as number) <= k / n && k / n <= (w.high as number), `${k}/${n}`);
      }
    }
  });
});
