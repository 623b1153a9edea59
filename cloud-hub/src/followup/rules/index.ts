import type { BreastRule, LesionRule } from './breast.js';
import { categoryUpgradeRule } from './category-upgrade.js';
import { growthRule } from './growth.js';
import { newFindingRule } from './new-finding.js';
import { resolvedFindingRule } from './resolved-finding.js';
import { scoreRiseRule } from './score-rise.js';

/**
 * The follow-up engine's alert rules. A new rule is one module implementing LesionRule (one lesion,
 * one view; put together across views) or BreastRule (a breast between two studies) and one entry here.
 */
export const LESION_RULES: readonly LesionRule[] = [growthRule, newFindingRule, resolvedFindingRule];
export const BREAST_RULES: readonly BreastRule[] = [scoreRiseRule, categoryUpgradeRule];
