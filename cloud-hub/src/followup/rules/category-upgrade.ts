import { categoryLabel } from '../category.js';
import { type BreastRule, breastBase, explained, SIDE } from './breast.js';

/** The breast's model-derived category rose to 3 or above since the previous study. */
export const categoryUpgradeRule: BreastRule = {
  kind: 'category-upgrade',
  conditions(pair) {
    const { before, after } = pair.top;
    if (!(after.category > before.category && after.category >= 3)) return [];
    return [
      {
        ...breastBase(pair),
        alertKey: `category-upgrade:${pair.keyResultId}`,
        kind: 'category-upgrade',
        severity: pair.explanation ? (after.category >= 4 ? 'critical' : 'warning') : 'info',
        reason: `${SIDE[pair.laterality]} breast: ${categoryLabel(before.category)} on ${pair.before.studyDate} → ${categoryLabel(after.category)}${explained(pair)}`,
        figures: { fromCategory: before.category, toCategory: after.category },
      },
    ];
  },
};
