import type { StoredResult } from '../results/result-store.js';
import { type Proportion, wilson } from './performance.js';
import type { ReviewFacts } from './verdict-store.js';
import type { FindingVerdictValue, MissedFindingValue } from './verdict-types.js';

/**
 * How a candidate model agrees with clinicians' verdicts, against the model they judged. In shadow
 * mode the candidate ran on the same images as the active model, so each image a clinician reviewed
 * holds the truth as the clinician saw it: the active model's confirmed findings plus the findings
 * they added as missed are lesions; dismissed findings, and anything else, are not. The candidate's
 * findings are scored against those lesions with the rule the evaluation uses for phantom truth
 * (a hit lies within max(5 mm, half the lesion's diameter) of its centre).
 *
 * - PPV: the candidate's findings that hit a lesion / its findings on reviewed images.
 * - Miss rate: reviewed images with a lesion the model did not report / reviewed images.
 * For the active model the same figures come straight from the verdicts.
 */
export interface AgreementFigures {
  ppv: Proportion;
  missRate: Proportion;
}

export interface VerdictAgreement {
  candidate: AgreementFigures;
  active: AgreementFigures;
  /** Reviewed images both models ran on. */
  images: number;
}

interface Lesion {
  x: number;
  y: number;
  diameterMm: number;
}

function hit(r: StoredResult, f: { x: number; y: number }, lesion: Lesion): boolean {
  const s = r.image.pixelSpacingMm;
  const dx = (f.x - lesion.x) * r.image.columns * s;
  const dy = (f.y - lesion.y) * r.image.rows * s;
  return Math.hypot(dx, dy) <= Math.max(5, lesion.diameterMm / 2);
}

/**
 * Scores a shadow candidate against the verdicts on the active model's findings, image by image.
 * `devices`: only results from these devices (the rollout's).
 */
export function shadowAgreement(
  facts: ReviewFacts,
  candidate: { name: string; version: string },
  devices: ReadonlySet<string>,
): VerdictAgreement {
  const findingVerdicts = new Map<string, FindingVerdictValue>();
  const missedByResult = new Map<string, MissedFindingValue[]>();
  for (const v of facts.verdicts) {
    if (v.kind === 'finding') findingVerdicts.set(`${v.resultId}:${v.findingIndex}`, v.value as FindingVerdictValue);
    if (v.kind === 'missed' && !(v.value as MissedFindingValue).withdrawn && v.resultId) {
      missedByResult.set(v.resultId, [...(missedByResult.get(v.resultId) ?? []), v.value as MissedFindingValue]);
    }
  }
  const isCandidate = (r: StoredResult) =>
    r.shadow === true && r.model.name === candidate.name && r.model.version === candidate.version;
  const candidates = new Map<string, StoredResult>();
  for (const r of facts.results) if (isCandidate(r) && devices.has(r.deviceId)) candidates.set(r.instanceKey, r);

  let images = 0;
  const c = { tp: 0, reported: 0, imagesWithMiss: 0 };
  const a = { confirmed: 0, judged: 0, imagesWithMiss: 0 };
  for (const active of facts.results) {
    if (active.shadow || active.model.name !== candidate.name) continue;
    const shadow = candidates.get(active.instanceKey);
    if (!shadow) continue;
    const judged = active.findings.map((_, i) => findingVerdicts.get(`${active.messageId}:${i}`));
    const missed = missedByResult.get(active.messageId) ?? [];
    // Reviewed: every finding the active model reported has a verdict (or it reported none and the
    // clinician said what it missed). An image judged only in part is not scored.
    const reviewed = judged.every((v) => v !== undefined) && (active.findings.length > 0 || missed.length > 0);
    if (!reviewed) continue;
    images++;
    const lesions: Lesion[] = [
      ...active.findings.filter((_, i) => judged[i]?.verdict === 'confirmed'),
      ...missed.map((m) => ({ x: m.x, y: m.y, diameterMm: m.diameterMm })),
    ];
    for (const v of judged) {
      if (v?.verdict === 'confirmed') a.confirmed++;
      if (v?.verdict === 'confirmed' || v?.verdict === 'dismissed') a.judged++;
    }
    if (missed.length > 0) a.imagesWithMiss++;
    c.reported += shadow.findings.length;
    c.tp += shadow.findings.filter((f) => lesions.some((l) => hit(shadow, f, l))).length;
    if (lesions.some((l) => !shadow.findings.some((f) => hit(shadow, f, l)))) c.imagesWithMiss++;
  }
  return {
    images,
    candidate: { ppv: wilson(c.tp, c.reported), missRate: wilson(c.imagesWithMiss, images) },
    active: { ppv: wilson(a.confirmed, a.judged), missRate: wilson(a.imagesWithMiss, images) },
  };
}

/** Whether the intervals say the candidate is worse: its interval lies wholly on the bad side. */
export function clearlyWorse(candidate: AgreementFigures, active: AgreementFigures): string | null {
  const reasons: string[] = [];
  const pct = (v: number | null) => `${((v ?? 0) * 100).toFixed(0)} %`;
  if (candidate.ppv.high !== null && active.ppv.low !== null && candidate.ppv.high < active.ppv.low) {
    reasons.push(`PPV ${pct(candidate.ppv.value)} against ${pct(active.ppv.value)}`);
  }
  if (candidate.missRate.low !== null && active.missRate.high !== null && candidate.missRate.low > active.missRate.high) {
    reasons.push(`misses on ${pct(candidate.missRate.value)} of reviewed images against ${pct(active.missRate.value)}`);
  }
  return reasons.length > 0 ? reasons.join('; ') : null;
}
