import { type BreastRule, breastBase, explained, round, SIDE } from './breast.js';

/** The breast's score (the highest of its views) rose by `scoreRise` since the previous study. */
export const scoreRiseRule: BreastRule = {
  kind: 'score-rise',
  conditions(pair, policy) {
    const { before, after } = pair.top;
    if (after.score - before.score < policy.scoreRise) return [];
    return [
      {
        ...breastBase(pair),
        alertKey: `score-rise:${pair.keyResultId}`,
        kind: 'score-rise',
        severity: pair.explanation ? 'warning' : 'info',
        reason: `${SIDE[pair.laterality]} breast: image score rose ${before.score.toFixed(2)} → ${after.score.toFixed(2)} since ${pair.before.studyDate}${explained(pair)}`,
        figures: { fromScore: round(before.score, 3), toScore: round(after.score, 3) },
      },
    ];
  },
};
