import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Finding } from '@vigil/shared';
import { categoryFromScore, categoryLabel, recommendedIntervalMonths } from '../src/followup/category.js';
import { changeConditions, DEFAULT_CHANGE_POLICY, volumeDoublingMonths } from '../src/followup/change-alerts.js';
import { matchFindings } from '../src/followup/finding-match.js';
import type { FollowupObservation } from '../src/followup/followup-types.js';
import { followupDue, overdueCondition } from '../src/followup/overdue.js';
import { buildPatientTimeline } from '../src/followup/timeline.js';

function finding(x: number, y: number, diameterMm: number, score = 0.7): Finding {
  return { x, y, diameterMm, areaMm2: Math.PI * (diameterMm / 2) ** 2, score };
}

let counter = 0;
function obs(studyDate: string, findings: Finding[], extra: Partial<FollowupObservation> = {}): FollowupObservation {
  counter += 1;
  return {
    resultId: `r${String(counter).padStart(4, '0')}${'0'.repeat(60)}`,
    patientKey: 'p1',
    studyKey: `s-${studyDate}`,
    studyDate,
    laterality: 'L',
    view: 'CC',
    clinicId: 'c1',
    deviceId: 'd1',
    createdAt: `${studyDate}T10:00:00.000Z`,
    score: Math.max(0.1, ...findings.map((f) => f.score)),
    findings,
    imageWidthMm: 240,
    ...extra,
  };
}

describe('finding matching', () => {
  it('pairs findings by position, one to one, cheapest pairs first', () => {
    const earlier = [finding(0.3, 0.3, 8), finding(0.6, 0.5, 12)];
    const current = [finding(0.61, 0.52, 13), finding(0.31, 0.29, 9), finding(0.8, 0.8, 5)];
    assert.deepEqual(matchFindings(earlier, current, 240), [1, 0, -1]);
  });

  it('refuses pairs farther apart than the tolerance', () => {
    assert.deepEqual(matchFindings([finding(0.2, 0.2, 5)], [finding(0.35, 0.2, 5)], 240), [-1]);
  });

  it('widens the tolerance by the lesion radius', () => {
    // A 60 mm lesion on a 240 mm wide image has a radius of 0.125 image widths.
    assert.deepEqual(matchFindings([finding(0.2, 0.2, 60)], [finding(0.35, 0.2, 62)], 240), [0]);
  });

  it('minimises the total cost: two neighbouring lesions that grew are not swapped', () => {
    // Nearest-first would pair the first current finding with the second earlier one (0.027 apart).
    const earlier = [finding(0.462, 0.407, 55.7), finding(0.456, 0.466, 47.6)];
    const current = [finding(0.463, 0.376, 73.4), finding(0.457, 0.435, 62.5)];
    assert.deepEqual(matchFindings(earlier, current, 240), [0, 1]);
  });

  it('uses size to decide between two equally close candidates', () => {
    const earlier = [finding(0.5, 0.5, 4), finding(0.5, 0.52, 20)];
    assert.deepEqual(matchFindings(earlier, [finding(0.5, 0.51, 21)], 240), [1]);
  });
});

describe('patient timeline', () => {
  it('tracks the same lesion across studies despite positioning shifts, in date order whatever the input order', () => {
    const a = obs('2022-01-10', [finding(0.4, 0.3, 6.1)]);
    const b = obs('2022-07-05', [finding(0.42, 0.31, 7.5)]);
    const c = obs('2023-01-12', [finding(0.41, 0.33, 9.4), finding(0.7, 0.6, 4)]);
    const t = buildPatientTimeline('p1', [c, a, b]);
    assert.equal(t.series.length, 1);
    const s = t.series[0];
    assert.ok(s);
    assert.deepEqual(
      s.studies.map((x) => x.studyDate),
      ['2022-01-10', '2022-07-05', '2023-01-12'],
    );
    assert.equal(s.tracks.length, 2);
    assert.deepEqual(
      s.tracks[0]?.points.map((p) => p.diameterMm),
      [6.1, 7.5, 9.4],
    );
    assert.equal(s.studies[2]?.trackIds[0], s.tracks[0]?.trackId);
  });

  it('keeps a track through one missed detection but not through two', () => {
    const t1 = buildPatientTimeline('p1', [
      obs('2020-01-01', [finding(0.5, 0.5, 8)]),
      obs('2021-01-01', []),
      obs('2022-01-01', [finding(0.5, 0.5, 8.5)]),
    ]);
    assert.equal(t1.series[0]?.tracks.length, 1);
    const t2 = buildPatientTimeline('p1', [
      obs('2020-01-01', [finding(0.5, 0.5, 8)]),
      obs('2021-01-01', []),
      obs('2022-01-01', []),
      obs('2023-01-01', [finding(0.5, 0.5, 8.5)]),
    ]);
    assert.equal(t2.series[0]?.tracks.length, 2);
  });

  it('keeps one image per study and series: a repeated acquisition replaces the earlier one', () => {
    const first = obs('2022-01-10', [finding(0.4, 0.3, 6)]);
    const repeat = obs('2022-01-10', [finding(0.4, 0.3, 6.4)], { createdAt: '2022-01-10T10:05:00.000Z' });
    const t = buildPatientTimeline('p1', [repeat, first]);
    assert.equal(t.series[0]?.studies.length, 1);
    assert.equal(t.series[0]?.studies[0]?.resultId, repeat.resultId);
  });

  it('separates laterality and view, and ignores other patients', () => {
    const t = buildPatientTimeline('p1', [
      obs('2022-01-10', [], { laterality: 'L', view: 'CC' }),
      obs('2022-01-10', [], { laterality: 'L', view: 'MLO' }),
      obs('2022-01-10', [], { laterality: 'R', view: 'CC' }),
      obs('2022-01-10', [], { patientKey: 'p2' }),
    ]);
    assert.deepEqual(
      t.series.map((s) => `${s.laterality}${s.view}`),
      ['LCC', 'LMLO', 'RCC'],
    );
    assert.equal(t.studies.length, 1);
  });
});

describe('change alerts', () => {
  it('reports growth with a reason a clinician can read', () => {
    const t = buildPatientTimeline('p1', [
      obs('2022-01-10', [finding(0.42, 0.31, 6.1)]),
      obs('2022-07-06', [finding(0.42, 0.31, 9.4)]),
    ]);
    const growth = changeConditions(t).filter((c) => c.kind === 'growth');
    assert.equal(growth.length, 1);
    const g = growth[0];
    assert.ok(g);
    assert.match(g.reason, /^Left CC: finding at \(0\.42, 0\.31\) grew 6\.1 → 9\.4 mm \(\+54 %\) in 5\.8 months/);
    assert.match(g.reason, /volume doubling time 3\.1 months$/);
    assert.equal(g.severity, 'critical');
    assert.equal(g.figures.growthMm, 3.3);
  });

  it('computes the volume doubling time of a sphere', () => {
    // Volume doubles when the diameter grows by 2^(1/3).
    assert.ok(Math.abs(volumeDoublingMonths(10, 10 * 2 ** (1 / 3), 7) - 7) < 1e-9);
    assert.equal(volumeDoublingMonths(10, 9, 7), Number.POSITIVE_INFINITY);
  });

  it('stays silent on stable findings and on growth within measurement error', () => {
    const t = buildPatientTimeline('p1', [
      obs('2021-01-10', [finding(0.42, 0.31, 12.0, 0.7)]),
      obs('2022-01-10', [finding(0.43, 0.3, 13.2, 0.7)]),
      obs('2023-01-10', [finding(0.41, 0.32, 12.6, 0.7)]),
    ]);
    assert.deepEqual(changeConditions(t), []);
  });

  it('needs both the absolute and the relative growth threshold', () => {
    // 30 → 33 mm is +3 mm but only +10 %: within what two readers disagree on for a large mass.
    const t = buildPatientTimeline('p1', [
      obs('2021-01-10', [finding(0.5, 0.5, 30)]),
      obs('2022-01-10', [finding(0.5, 0.5, 33)]),
    ]);
    assert.equal(changeConditions(t).filter((c) => c.kind === 'growth').length, 0);
  });

  it('reports new and resolved findings, a score rise and a category upgrade', () => {
    const t = buildPatientTimeline('p1', [
      obs('2020-03-01', [finding(0.3, 0.3, 7, 0.3)], { score: 0.3 }),
      obs('2021-03-01', [finding(0.3, 0.3, 7, 0.3)], { score: 0.3 }),
      obs('2022-03-01', [finding(0.7, 0.6, 5, 0.75)], { score: 0.75 }),
    ]);
    const kinds = changeConditions(t)
      .map((c) => c.kind)
      .sort();
    assert.deepEqual(kinds, ['category-upgrade', 'new-finding', 'resolved-finding', 'score-rise']);
    const upgrade = changeConditions(t).find((c) => c.kind === 'category-upgrade');
    assert.match(
      upgrade?.reason ?? '',
      /model-derived category 2 \(benign\) on 2021-03-01 → model-derived category 4 \(suspicious\); no growing or new finding in the inbox explains it$/,
    );
  });

  it('does not report the disappearance of a finding seen only once (most often a false positive)', () => {
    const t = buildPatientTimeline('p1', [
      obs('2020-03-01', [finding(0.5, 0.5, 9, 0.4)]),
      obs('2021-03-01', [finding(0.5, 0.5, 9, 0.4), finding(0.2, 0.7, 6, 0.4)]),
      obs('2022-03-01', [finding(0.5, 0.5, 9, 0.4)]),
    ]);
    const resolved = (policy = DEFAULT_CHANGE_POLICY) => changeConditions(t, policy).filter((c) => c.kind === 'resolved-finding');
    assert.deepEqual(resolved(), []);
    // With the rule off, the one-off detection at (0.2, 0.7) is reported as resolved.
    const strictOff = resolved({ ...DEFAULT_CHANGE_POLICY, resolvedMinSightings: 1 });
    assert.deepEqual(
      strictOff.map((c) => c.kind),
      ['resolved-finding'],
    );
    assert.match(strictOff[0]?.reason ?? '', /finding at \(0\.20, 0\.70\) \(6\.0 mm on 2021-03-01\) is not seen on 2022-03-01/);
  });

  it('puts a new finding in the inbox only when the other view of the same study shows it too', () => {
    const mlo = { view: 'MLO' } as const;
    const newOne = (withMlo: Finding[] | undefined, earlierMlo: Finding[] = []) => {
      const list = [obs('2021-03-01', []), obs('2022-03-01', [finding(0.62, 0.3, 8, 0.9)])];
      if (withMlo) list.push(obs('2021-03-01', earlierMlo, mlo), obs('2022-03-01', withMlo, mlo));
      const alerts = changeConditions(buildPatientTimeline('p1', list)).filter((c) => c.kind === 'new-finding');
      return Object.assign(alerts.find((c) => c.view === 'CC') as NonNullable<(typeof alerts)[number]>, { count: alerts.length });
    };
    // MLO shows a finding of about that size at about the same distance from the chest wall (x).
    const seen = newOne([finding(0.63, 0.55, 7.5, 0.9)]);
    assert.equal(seen.severity, 'critical');
    assert.equal(seen.view, 'CC');
    assert.match(seen.reason, /; also seen in the MLO view \(7\.5 mm\)$/);
    assert.equal(seen.figures.seenInOtherView, 1);
    assert.equal(seen.figures.views, 2);
    // One alert per lesion: the MLO sighting is part of the CC alert, not a second one.
    assert.equal(seen.count, 1);
    // At that depth but three times the size: another structure, not this lesion.
    assert.equal(newOne([finding(0.63, 0.55, 24, 0.9)]).severity, 'info');
    // MLO imaged, nothing near that depth: "to review", and the reason says why.
    const unseen = newOne([finding(0.2, 0.55, 8, 0.9)]);
    assert.equal(unseen.severity, 'info');
    assert.match(unseen.reason, /; not seen in the MLO view$/);
    assert.equal(unseen.figures.seenInOtherView, 0);
    // No MLO image for that study yet: "to review" until it comes in.
    const unknown = newOne(undefined);
    assert.equal(unknown.severity, 'info');
    assert.match(unknown.reason, /; the MLO view is not in yet$/);
    assert.equal(unknown.figures.seenInOtherView, undefined);
    // The MLO view followed that lesion from the study before: missed in CC then, not new.
    const missedBefore = newOne([finding(0.63, 0.55, 8, 0.9)], [finding(0.63, 0.56, 7.8, 0.9)]);
    assert.equal(missedBefore.severity, 'info');
    assert.match(missedBefore.reason, /; a finding was seen there on 2021-03-01 \(missed in between\?\)$/);
    assert.equal(missedBefore.figures.seenBefore, 1);
  });

  it('reports growth both views show as one inbox alert, and one view alone only when the other view shows the lesion', () => {
    const mlo = { view: 'MLO' } as const;
    const growth = (mloBefore: Finding[], mloAfter: Finding[]) =>
      changeConditions(
        buildPatientTimeline('p1', [
          obs('2021-03-01', [finding(0.5, 0.3, 10)]),
          obs('2021-03-01', mloBefore, mlo),
          obs('2022-03-01', [finding(0.5, 0.3, 14)]),
          obs('2022-03-01', mloAfter, mlo),
        ]),
      ).filter((c) => c.kind === 'growth');
    const both = growth([finding(0.51, 0.6, 10.5)], [finding(0.51, 0.6, 14.5)]);
    assert.equal(both.length, 1);
    assert.notEqual(both[0]?.severity, 'info');
    assert.match(both[0]?.reason ?? '', /grew 10\.0 → 14\.0 mm .*; MLO view: 10\.5 → 14\.5 mm$/);
    // MLO shows the lesion, measured smaller: CC's 4 mm (≈ 3.7 SDs) is enough on its own.
    const oneView = growth([finding(0.51, 0.6, 10.5)], [finding(0.51, 0.6, 11)]);
    assert.equal(oneView.length, 1);
    assert.notEqual(oneView[0]?.severity, 'info');
    // MLO imaged and shows nothing there: one view's growth is "to review".
    const alone = growth([], [finding(0.2, 0.6, 5)]);
    assert.equal(alone[0]?.severity, 'info');
  });

  it('keeps one view\'s growth "to review" when it only catches up with what the other view measured all along', () => {
    const mlo = { view: 'MLO' } as const;
    const growth = (cc: [number, number], mloSizes: [number, number]) =>
      changeConditions(
        buildPatientTimeline('p1', [
          obs('2021-03-01', [finding(0.5, 0.3, cc[0])]),
          obs('2021-03-01', [finding(0.51, 0.6, mloSizes[0])], mlo),
          obs('2022-03-01', [finding(0.5, 0.3, cc[1])]),
          obs('2022-03-01', [finding(0.51, 0.6, mloSizes[1])], mlo),
        ]),
      ).filter((c) => c.kind === 'growth');
    // A stable 7.6 mm lesion (a case from an evaluation cohort): CC under-measured it at first and
    // "grew" 5.8 → 8.6 mm (2.7 SDs), MLO measured 7.1 → 7.8 mm. Its largest diameter over both
    // views went 7.1 → 8.6 mm, under the 2 mm threshold: to review, saying why.
    const caughtUp = growth([5.8, 8.6], [7.1, 7.8]);
    assert.equal(caughtUp.length, 1);
    assert.equal(caughtUp[0]?.severity, 'info');
    assert.match(caughtUp[0]?.reason ?? '', /grew 5\.8 → 8\.6 mm .*; largest over both views 7\.1 → 8\.6 mm, not growing$/);
    // A lesion growing past what either view measured before still reaches the inbox from one view:
    // CC 9.4 → 13.7 mm while MLO stays 8.3 mm (the largest goes 9.4 → 13.7).
    const grew = growth([9.4, 13.7], [8.3, 8.3]);
    assert.equal(grew.length, 1);
    assert.notEqual(grew[0]?.severity, 'info');
    assert.doesNotMatch(grew[0]?.reason ?? '', /largest over both views/);
    // A stable 22 mm mass (a case from an evaluation cohort) that CC first measured as a 6.1 mm
    // fragment: too unlike MLO's 23.5 mm to be the same lesion by size, but MLO followed it all
    // along (23.5 → 22.5 mm), so CC's "growth" 6.1 → 18.3 mm only caught up: to review.
    const fragment = growth([6.1, 18.3], [23.5, 22.5]);
    assert.equal(fragment.length, 1);
    assert.equal(fragment[0]?.severity, 'info');
    assert.match(fragment[0]?.reason ?? '', /; largest over both views 23\.5 → 22\.5 mm, not growing$/);
    // MLO's track did not hold steady (30 → 16.4 mm: not one lesion measured twice), so its earlier
    // sighting is not taken for this lesion's: CC's growth 5.8 → 11.7 mm reaches the inbox.
    const unsteady = growth([5.8, 11.7], [30, 16.4]);
    assert.equal(unsteady.length, 1);
    assert.notEqual(unsteady[0]?.severity, 'info');
    assert.doesNotMatch(unsteady[0]?.reason ?? '', /largest over both views/);
  });

  it('reports image-level changes once per breast, in the inbox only when a growing or new finding explains them', () => {
    const mlo = { view: 'MLO' } as const;
    const conditions = (later: { cc: Finding[]; mlo: Finding[] }) =>
      changeConditions(
        buildPatientTimeline('p1', [
          obs('2021-03-01', [finding(0.5, 0.3, 6, 0.3)], { score: 0.3 }),
          obs('2021-03-01', [finding(0.51, 0.6, 6, 0.3)], { ...mlo, score: 0.3 }),
          obs('2022-03-01', later.cc, { score: 0.75 }),
          obs('2022-03-01', later.mlo, { ...mlo, score: 0.7 }),
        ]),
      ).filter((c) => c.kind === 'score-rise' || c.kind === 'category-upgrade');
    // The lesion grew in both views: the breast's rise is explained, into the inbox, one alert per kind.
    const explained = conditions({ cc: [finding(0.5, 0.3, 10, 0.75)], mlo: [finding(0.51, 0.6, 10, 0.7)] });
    assert.deepEqual(explained.map((c) => `${c.kind}:${c.severity}`).sort(), ['category-upgrade:critical', 'score-rise:warning']);
    assert.match(explained[0]?.reason ?? '', /^Left breast: .*; explained by the growth in the CC view$/);
    assert.equal(explained[0]?.view, null);
    // The same scores, the lesion the same size: nothing explains the rise, so it is "to review".
    const unexplained = conditions({ cc: [finding(0.5, 0.3, 6, 0.75)], mlo: [finding(0.51, 0.6, 6, 0.7)] });
    assert.deepEqual(unexplained.map((c) => `${c.kind}:${c.severity}`).sort(), ['category-upgrade:info', 'score-rise:info']);
    assert.match(unexplained[0]?.reason ?? '', /; no growing or new finding in the inbox explains it$/);
  });

  it('reports a finding no longer seen "to review", and not at all while the other view still shows it', () => {
    const mlo = { view: 'MLO' } as const;
    const resolved = (mloAtLastStudy: Finding[]) => {
      const list = [
        obs('2020-03-01', [finding(0.4, 0.3, 9, 0.4)]),
        obs('2021-03-01', [finding(0.4, 0.3, 9, 0.4)]),
        obs('2022-03-01', []),
        obs('2020-03-01', [finding(0.42, 0.6, 9, 0.4)], mlo),
        obs('2021-03-01', [finding(0.42, 0.6, 9, 0.4)], mlo),
        obs('2022-03-01', mloAtLastStudy, mlo),
      ];
      return changeConditions(buildPatientTimeline('p1', list)).filter((c) => c.kind === 'resolved-finding');
    };
    // The MLO view still shows it at the last study: a miss in CC, no alert.
    assert.deepEqual(resolved([finding(0.43, 0.61, 9, 0.4)]), []);
    // Gone from both views: one alert for the lesion, at the "to review" level.
    const goneInBoth = resolved([]);
    assert.equal(goneInBoth.length, 1);
    assert.equal(goneInBoth[0]?.severity, 'info');
    assert.match(goneInBoth[0]?.reason ?? '', /is not seen on 2022-03-01; nor in the MLO view$/);
    assert.equal(goneInBoth[0]?.figures.seenInOtherView, 0);
    assert.equal(goneInBoth[0]?.figures.views, 2);
  });

  it('does not call baseline findings new', () => {
    const t = buildPatientTimeline('p1', [obs('2021-03-01', [finding(0.3, 0.3, 7, 0.9)])]);
    assert.deepEqual(changeConditions(t), []);
  });

  it('gives the same alert keys whatever order the results arrive in', () => {
    const list = [
      obs('2021-01-01', [finding(0.4, 0.4, 5)]),
      obs('2021-07-01', [finding(0.4, 0.4, 8), finding(0.6, 0.6, 4)]),
      obs('2022-01-01', [finding(0.4, 0.4, 12)]),
    ];
    const keys = (l: FollowupObservation[]) =>
      changeConditions(buildPatientTimeline('p1', l))
        .map((c) => c.alertKey)
        .sort();
    assert.deepEqual(keys([...list].reverse()), keys(list));
    assert.ok(keys(list).length >= 3);
  });
});

describe('categories and overdue follow-up', () => {
  it('maps scores to model-derived categories and intervals', () => {
    assert.deepEqual(
      [0, 0.19, 0.2, 0.5, 0.6, 0.85].map((s) => categoryFromScore(s)),
      [1, 1, 2, 3, 4, 5],
    );
    assert.equal(recommendedIntervalMonths(3), 6);
    assert.equal(recommendedIntervalMonths(1), 12);
    assert.match(categoryLabel(3), /^model-derived category 3 \(probably benign\)$/);
  });

  it('is due one interval after the latest study, and overdue only past the grace period', () => {
    const t = buildPatientTimeline('p1', [obs('2024-01-10', [finding(0.5, 0.5, 6, 0.5)], { score: 0.5 })]);
    assert.equal(followupDue(t)?.dueDate, '2024-07-10');
    assert.equal(overdueCondition(t, '2024-08-01'), null);
    const late = overdueCondition(t, '2024-09-20');
    assert.ok(late);
    assert.equal(late.figures.daysOverdue, 72);
    assert.match(late.reason, /recommended a follow-up within 6 months, due 2024-07-10; none received, 72 days overdue$/);
  });

  it('is no longer overdue once a new study arrives', () => {
    const t = buildPatientTimeline('p1', [obs('2024-01-10', [], { score: 0.5 }), obs('2024-08-20', [], { score: 0.1 })]);
    assert.equal(overdueCondition(t, '2024-09-20'), null);
    assert.equal(followupDue(t)?.dueDate, '2025-08-20');
  });

  it('counts calendar months, clamping to the end of a short month', () => {
    const t = buildPatientTimeline('p1', [obs('2023-08-31', [], { score: 0.5 })]);
    assert.equal(followupDue(t)?.dueDate, '2024-02-29');
  });

  it('has no due date without studies', () => {
    const t = buildPatientTimeline('p1', []);
    assert.equal(followupDue(t), null);
    assert.equal(overdueCondition(t, '2030-01-01'), null);
  });
});
