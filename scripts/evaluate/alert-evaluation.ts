// End to end: the model's findings on a longitudinal phantom cohort, through the hub's follow-up
// engine, scored alert by alert against the generator's ground truth. The engine alone is checked
// with a simulated detector (cloud-hub/test/followup-ground-truth.test.ts); this says how many of the
// alerts a clinician would see are real, with the real model in front of it, and which real changes
// they miss.
import {
  type AlertCondition,
  type AlertLevel,
  alertLevel,
  buildPatientTimeline,
  changeConditions,
  DEFAULT_FOLLOWUP_POLICY,
  type FollowupObservation,
  type FollowupPolicy,
} from '@vigil/cloud-hub';
import type { Finding } from '@vigil/shared';
import { isoStudyDate } from '../phantoms/cohort-plan.js';
import type { TruthImage } from '../phantoms/generate-phantoms.js';
import type { InferredCohort, InferredImage } from './infer-cohort.js';
import { hitRadiusMm, type Interval, medianInterval, poissonRate, round3, roundInterval as rounded, wilson } from './metrics.js';

/** The truth behind one reported finding: the phantom finding it lies on, if any. */
interface MatchedTruth {
  id: string;
  behaviour: string;
  diameterMm: number;
}
type Match = MatchedTruth | 'lookalike' | undefined;

export interface KindFigures {
  alerts: number;
  /** Alerts whose finding (or breast, for image-level kinds) really changed that way. */
  correct: number;
  precision: Interval;
}

/** One judged alert, for reading and for tuning the engine's rules. */
export interface JudgedAlert {
  alertKey: string;
  kind: string;
  severity: string;
  level: AlertLevel;
  correct: boolean;
  patientId: string;
  visit: number;
  reason: string;
  truth: string;
  figures: Record<string, number>;
}

export interface AlertEvaluation {
  patients: number;
  studies: number;
  images: number;
  /** Follow-up time: the span from each patient's first to last study, summed (years). */
  patientYears: number;
  byLevel: Record<AlertLevel, Record<string, KindFigures>>;
  recall: {
    /** Clear growth (≥ 3.5 mm and ≥ 25 %) of findings up to 50 mm: reported in the inbox, and at any level. */
    growth: { events: number; inbox: Interval; anyLevel: Interval; missed: Record<string, number> };
    /** New findings ≥ 5 mm at the visit they appear. */
    newFinding: { events: number; inbox: Interval; anyLevel: Interval };
  };
  /** Wrong inbox alerts per patient-year of follow-up. */
  falseInboxAlertsPerPatientYear: Interval;
  /** |reported − true| diameter of findings the edge reports (5–50 mm), by true size. */
  sizeErrorMm: Record<'upTo30' | 'from30To50' | 'upTo50', Interval & { n: number }>;
  perPatient: { inbox: number; inboxCorrect: number; review: number; reviewCorrect: number };
  missedGrowthExamples: string[];
  wrongExamples: string[];
  alerts: JudgedAlert[];
}

const within = (aMm: number, bMm: number, limitMm: number) => Math.hypot(aMm, bMm) <= limitMm;

/** The phantom finding (or look-alike) a reported finding lies on, by the same rule as the FROC figures. */
export function matchTruth(image: TruthImage, f: Finding): Match {
  const s = image.pixelSpacingMm;
  const dx = (a: { x: number }) => (a.x - f.x) * image.columns * s;
  const dy = (a: { y: number }) => (a.y - f.y) * image.rows * s;
  let best: { d: number; t: Match } | undefined;
  for (const t of image.findings) {
    const d = Math.hypot(dx(t), dy(t));
    if (within(dx(t), dy(t), hitRadiusMm(t.diameterMm)) && (!best || d < best.d))
      best = { d, t: { id: t.id, behaviour: t.behaviour, diameterMm: t.diameterMm } };
  }
  if (best) return best.t;
  for (const l of image.lookalikes) if (within(dx(l), dy(l), hitRadiusMm(l.diameterMm))) return 'lookalike';
  return undefined;
}

const resultIdOf = (r: InferredImage) => r.resultId ?? r.image.sopInstanceUid;

/** The observation the hub would hold for one inferred image. */
export function observationOf(r: InferredImage): FollowupObservation {
  const date = isoStudyDate(r.studyDate);
  return {
    resultId: resultIdOf(r),
    patientKey: r.patientId,
    studyKey: r.studyKey,
    studyDate: date,
    laterality: r.image.laterality,
    view: r.image.view,
    clinicId: 'evaluation',
    deviceId: 'evaluation',
    // Views arrive in the order the modality sends them (LCC, LMLO, RCC, RMLO), as in a clinic.
    createdAt: `${date}T09:00:0${['LCC', 'LMLO', 'RCC', 'RMLO'].indexOf(`${r.image.laterality}${r.image.view}`)}.000Z`,
    score: r.score,
    findings: r.findings,
    imageWidthMm: r.image.columns * r.image.pixelSpacingMm,
  };
}

/**
 * The truth behind a cohort's results, to judge alerts with: which phantom finding each reported
 * finding lies on, and every finding's true diameter at every visit.
 */
export class CohortTruth {
  readonly records = new Map<string, InferredImage & { matches: Match[] }>();
  /** Truth diameter of each finding per visit, for "did it really grow". */
  readonly diameterAt = new Map<string, number>();

  constructor(private readonly cohort: InferredCohort) {
    for (const r of cohort.images) {
      this.records.set(resultIdOf(r), { ...r, matches: r.findings.map((f) => matchTruth(r.image, f)) });
      for (const f of r.image.findings) this.diameterAt.set(`${f.id}@${r.visit}`, f.diameterMm);
    }
  }

  recordOf(alert: Pick<AlertCondition, 'alertKey'>) {
    return this.records.get(alert.alertKey.split(':')[1] ?? '');
  }

  matchOf(alert: Pick<AlertCondition, 'alertKey'>): Match {
    const index = alert.alertKey.split(':')[2];
    return index === undefined ? undefined : this.recordOf(alert)?.matches[Number(index)];
  }

  /** Whether a real finding in this breast grew or appeared at this study (image- and breast-level kinds). */
  private breastChanged(alert: Pick<AlertCondition, 'alertKey'>): boolean {
    const record = this.recordOf(alert);
    if (!record) return false;
    return this.cohort.images
      .filter((r) => r.studyKey === record.studyKey && r.image.laterality === record.image.laterality)
      .some((r) =>
        r.image.findings.some((f) => {
          const before = this.diameterAt.get(`${f.id}@${r.visit - 1}`);
          return before === undefined ? r.visit > 0 : f.diameterMm - before > 1;
        }),
      );
  }

  /** Whether the alert is right, and what the truth was. */
  judge(alert: Pick<AlertCondition, 'alertKey' | 'kind'>): { ok: boolean; why: string } {
    if (alert.kind === 'score-rise' || alert.kind === 'category-upgrade') {
      const ok = this.breastChanged(alert);
      return { ok, why: ok ? 'a finding in the breast grew or appeared' : 'no finding in the breast grew or appeared' };
    }
    const m = this.matchOf(alert);
    if (!m) return { ok: false, why: 'no phantom finding under it (a false positive)' };
    if (m === 'lookalike') return { ok: false, why: 'on a benign look-alike' };
    const visit = this.recordOf(alert)?.visit ?? 0;
    const before = this.diameterAt.get(`${m.id}@${visit - 1}`);
    const after = this.diameterAt.get(`${m.id}@${visit + 1}`);
    if (alert.kind === 'growth') {
      const ok = before !== undefined && m.diameterMm - before > 1;
      return { ok, why: `${m.id} true size ${before?.toFixed(1) ?? '—'} → ${m.diameterMm.toFixed(1)} mm` };
    }
    if (alert.kind === 'new-finding') {
      // Right when nothing a reader (or the model, validated from 5 mm) could see was there before.
      const ok = before === undefined || before < 5;
      return { ok, why: `${m.id} ${m.behaviour}, ${before?.toFixed(1) ?? 'absent'} mm at the visit before` };
    }
    if (alert.kind === 'resolved-finding') {
      // Keyed by the last sighting; the alert's study is the next one, where it should be gone.
      return { ok: after === undefined, why: `${m.id} ${after === undefined ? 'gone' : `still there (${after.toFixed(1)} mm)`}` };
    }
    return { ok: false, why: 'not judged' };
  }
}

/** Alert figures for a cohort the model has been run over (`inferCohort`), with a follow-up policy. */
export function evaluateAlerts(cohort: InferredCohort, policy: FollowupPolicy = DEFAULT_FOLLOWUP_POLICY): AlertEvaluation {
  const byPatient = new Map<string, InferredImage[]>();
  for (const r of cohort.images) byPatient.set(r.patientId, [...(byPatient.get(r.patientId) ?? []), r]);
  const truth = new CohortTruth(cohort);
  const { records, diameterAt } = truth;
  const alerts: AlertCondition[] = [];
  let studies = 0;
  let patientYears = 0;
  for (const [patientId, images] of byPatient) {
    const dates = [...new Set(images.map((i) => isoStudyDate(i.studyDate)))].sort();
    studies += dates.length;
    patientYears += (Date.parse(dates.at(-1) ?? '') - Date.parse(dates[0] ?? '')) / (365.25 * 86_400_000);
    const timeline = buildPatientTimeline(patientId, images.map(observationOf), policy.timeline);
    alerts.push(...changeConditions(timeline, policy.change).filter((a) => a.kind !== 'overdue'));
  }

  const byLevel: AlertEvaluation['byLevel'] = { inbox: {}, review: {} };
  const judged: JudgedAlert[] = [];
  const wrongExamples: string[] = [];
  for (const alert of alerts) {
    const level = alertLevel(alert.severity);
    const figures = byLevel[level][alert.kind] ?? { alerts: 0, correct: 0, precision: wilson(0, 0) };
    byLevel[level][alert.kind] = figures;
    figures.alerts += 1;
    const verdict = truth.judge(alert);
    if (verdict.ok) figures.correct += 1;
    else if (level === 'inbox' && wrongExamples.length < 20)
      wrongExamples.push(`${alert.kind} (${alert.severity}): ${alert.reason} — truth: ${verdict.why}`);
    judged.push({
      alertKey: alert.alertKey,
      kind: alert.kind,
      severity: alert.severity,
      level,
      correct: verdict.ok,
      patientId: alert.patientKey,
      visit: truth.recordOf(alert)?.visit ?? -1,
      reason: alert.reason,
      truth: verdict.why,
      figures: alert.figures,
    });
  }
  for (const kinds of Object.values(byLevel))
    for (const figures of Object.values(kinds)) figures.precision = rounded(wilson(figures.correct, figures.alerts));

  // Recall: every clear growth (≥ 3.5 mm and ≥ 25 %) of a finding up to 50 mm, and every
  // appearance of a new finding ≥ 5 mm.
  const alertedOn = { growth: new Map<string, AlertLevel>(), newFinding: new Map<string, AlertLevel>() };
  for (const alert of alerts) {
    const m = truth.matchOf(alert);
    const record = truth.recordOf(alert);
    if (!m || m === 'lookalike' || !record) continue;
    const map = alert.kind === 'growth' ? alertedOn.growth : alert.kind === 'new-finding' ? alertedOn.newFinding : undefined;
    const key = `${m.id}@${record.visit}`;
    // A lesion seen in both views may be alerted twice; the inbox level wins.
    if (map && map.get(key) !== 'inbox') map.set(key, alertLevel(alert.severity));
  }
  const growthEvents = new Set<string>();
  const newEvents = new Set<string>();
  for (const r of cohort.images) {
    for (const f of r.image.findings) {
      const before = diameterAt.get(`${f.id}@${r.visit - 1}`);
      const key = `${f.id}@${r.visit}`;
      if (before !== undefined && f.diameterMm <= 50 && f.diameterMm - before >= 3.5 && (f.diameterMm - before) / before >= 0.25)
        growthEvents.add(key);
      if (f.behaviour === 'new' && before === undefined && r.visit > 0 && f.diameterMm >= 5) newEvents.add(key);
    }
  }
  const recallOf = (events: Set<string>, on: Map<string, AlertLevel>) => ({
    events: events.size,
    inbox: rounded(wilson([...events].filter((k) => on.get(k) === 'inbox').length, events.size)),
    anyLevel: rounded(wilson([...events].filter((k) => on.has(k)).length, events.size)),
  });

  // Why clear growth went unreported: the model missed the finding at one of the two visits (in
  // every view), or it saw it at both and the engine did not link or flag it.
  const detectedAt = new Set<string>();
  for (const record of records.values()) {
    const view = `${record.image.laterality}${record.image.view}`;
    for (const m of record.matches) {
      if (!m || m === 'lookalike') continue;
      detectedAt.add(`${m.id}@${record.visit}`);
      detectedAt.add(`${m.id}@${record.visit}@${view}`);
    }
  }
  const describeMiss = (id: string, visit: number) => {
    const parts: string[] = [];
    for (const record of records.values()) {
      if (record.visit !== visit && record.visit !== visit - 1) continue;
      record.matches.forEach((m, i) => {
        if (m && m !== 'lookalike' && m.id === id) {
          const f = record.findings[i] as Finding;
          parts.push(
            `v${record.visit} ${record.image.laterality}${record.image.view}: true ${m.diameterMm.toFixed(1)} mm, measured ${f.diameterMm.toFixed(1)} mm`,
          );
        }
      });
    }
    return `${id}: ${parts.sort().join('; ')}`;
  };
  const missed = {
    modelMissedBefore: 0,
    modelMissedAfter: 0,
    seenInOneViewEachTime: 0,
    seenBothTimesInAView: 0,
    onlyToReview: 0,
  };
  const missedGrowthExamples: string[] = [];
  for (const key of growthEvents) {
    const level = alertedOn.growth.get(key);
    if (level === 'inbox') continue;
    if (level === 'review') {
      missed.onlyToReview += 1;
      continue;
    }
    const [id = '', v] = key.split('@');
    const visit = Number(v);
    if (!detectedAt.has(`${id}@${visit - 1}`)) missed.modelMissedBefore += 1;
    else if (!detectedAt.has(key)) missed.modelMissedAfter += 1;
    else if (
      ['LCC', 'LMLO', 'RCC', 'RMLO'].some((w) => detectedAt.has(`${id}@${visit - 1}@${w}`) && detectedAt.has(`${key}@${w}`))
    ) {
      missed.seenBothTimesInAView += 1;
      if (missedGrowthExamples.length < 10) missedGrowthExamples.push(describeMiss(id, visit));
    } else missed.seenInOneViewEachTime += 1;
  }

  // Size: what the edge reports (its own threshold), against the truth under it, 5–50 mm.
  const errors = { upTo30: [] as number[], from30To50: [] as number[], upTo50: [] as number[] };
  for (const record of records.values()) {
    const best = new Map<string, number>();
    record.matches.forEach((m, i) => {
      if (!m || m === 'lookalike' || m.diameterMm < 5 || m.diameterMm > 50) return;
      // A lesion reported in pieces: the largest piece is its measurement.
      best.set(m.id, Math.max(best.get(m.id) ?? 0, (record.findings[i] as Finding).diameterMm));
    });
    for (const [id, measured] of best) {
      const truth = record.image.findings.find((f) => f.id === id)?.diameterMm ?? 0;
      const error = Math.abs(measured - truth);
      errors.upTo50.push(error);
      (truth <= 30 ? errors.upTo30 : errors.from30To50).push(error);
    }
  }
  const sizeOf = (list: number[]) => ({ ...rounded(medianInterval(list)), n: list.length });

  const count = (level: AlertLevel, correct?: boolean) =>
    judged.filter((a) => a.level === level && (correct === undefined || a.correct === correct)).length;
  const patients = byPatient.size;
  return {
    patients,
    studies,
    images: records.size,
    patientYears: round3(patientYears),
    byLevel,
    recall: {
      growth: { ...recallOf(growthEvents, alertedOn.growth), missed },
      newFinding: recallOf(newEvents, alertedOn.newFinding),
    },
    falseInboxAlertsPerPatientYear: rounded(poissonRate(count('inbox', false), patientYears)),
    sizeErrorMm: { upTo30: sizeOf(errors.upTo30), from30To50: sizeOf(errors.from30To50), upTo50: sizeOf(errors.upTo50) },
    perPatient: {
      inbox: round3(count('inbox') / Math.max(1, patients)),
      inboxCorrect: round3(count('inbox', true) / Math.max(1, patients)),
      review: round3(count('review') / Math.max(1, patients)),
      reviewCorrect: round3(count('review', true) / Math.max(1, patients)),
    },
    missedGrowthExamples,
    wrongExamples,
    alerts: judged,
  };
}
