// End to end: the model's findings on a longitudinal phantom cohort, through the hub's follow-up
// engine, scored alert by alert against the generator's ground truth. The engine alone is checked
// with a simulated detector (cloud-hub/test/followup-ground-truth.test.ts); this says how many of the
// alerts a clinician would see are real, with the real model in front of it.
import { join } from 'node:path';
import {
  type AlertCondition,
  buildPatientTimeline,
  type ChangePolicy,
  changeConditions,
  DEFAULT_CHANGE_POLICY,
  type FollowupObservation,
} from '@vigil/cloud-hub';
import { analyzeInput, inputSpecOf, modelInputFromFile, OnnxModel } from '@vigil/edge-agent';
import type { Finding } from '@vigil/shared';
import { isoStudyDate } from '../phantoms/cohort-plan.js';
import { readTruth, type TruthImage } from '../phantoms/generate-phantoms.js';
import { hitRadiusMm, round3 } from './metrics.js';

/** The truth behind one reported finding: the phantom finding it lies on, if any. */
interface MatchedTruth {
  id: string;
  behaviour: string;
  diameterMm: number;
}

interface ImageRecord {
  image: TruthImage;
  /** The visit (0 = baseline) and the study the image belongs to. */
  visit: number;
  studyKey: string;
  findings: Finding[];
  /** Per reported finding: the truth finding under it (or a look-alike / nothing). */
  matches: (MatchedTruth | 'lookalike' | undefined)[];
}

export interface KindFigures {
  alerts: number;
  /** Alerts whose finding (or breast, for image-level kinds) really changed that way. */
  correct: number;
  precision: number;
}

export interface AlertEvaluation {
  patients: number;
  studies: number;
  images: number;
  byKind: Record<string, KindFigures>;
  /** Truth events the engine should report, and how many it did. */
  recall: {
    growth: {
      events: number;
      alerted: number;
      /** Why the others went unreported: a miss by the model, or (seen in the same view both times) by the engine. */
      missed: {
        modelMissedBefore: number;
        modelMissedAfter: number;
        seenInOneViewEachTime: number;
        seenBothTimesInAView: number;
      };
    };
    newFinding: { events: number; alerted: number };
  };
  alertsPerPatient: number;
  /** Per finding-level kind: [alerts seen in the other view too, alerts] for right and for wrong alerts. */
  crossView: Record<string, { correct: [number, number]; wrong: [number, number] }>;
  /** Clear growth seen in the same view at both visits yet not alerted: the model's measurements. */
  missedGrowthExamples: string[];
  /** Up to 20 alerts judged wrong, with their reason text and the truth, for a reader to look at. */
  wrongExamples: string[];
}

const within = (aMm: number, bMm: number, limitMm: number) => Math.hypot(aMm, bMm) <= limitMm;

/** The phantom finding (or look-alike) a reported finding lies on, by the same rule as the FROC figures. */
export function matchTruth(image: TruthImage, f: Finding): MatchedTruth | 'lookalike' | undefined {
  const s = image.pixelSpacingMm;
  const dx = (a: { x: number }) => (a.x - f.x) * image.columns * s;
  const dy = (a: { y: number }) => (a.y - f.y) * image.rows * s;
  let best: { d: number; t: ImageRecord['matches'][number] } | undefined;
  for (const t of image.findings) {
    const d = Math.hypot(dx(t), dy(t));
    if (within(dx(t), dy(t), hitRadiusMm(t.diameterMm)) && (!best || d < best.d))
      best = { d, t: { id: t.id, behaviour: t.behaviour, diameterMm: t.diameterMm } };
  }
  if (best) return best.t;
  for (const l of image.lookalikes) if (within(dx(l), dy(l), hitRadiusMm(l.diameterMm))) return 'lookalike';
  return undefined;
}

/** Runs the model over every image of a phantom cohort and scores the follow-up alerts it leads to. */
export async function evaluateAlerts(
  phantomDir: string,
  modelDir: string,
  onProgress?: (done: number, total: number) => void,
  policy: ChangePolicy = DEFAULT_CHANGE_POLICY,
): Promise<AlertEvaluation> {
  const model = await OnnxModel.load(modelDir);
  const spec = inputSpecOf(model.manifest);
  const { truth } = readTruth(phantomDir);
  const total = truth.patients.reduce((n, p) => n + p.visits.reduce((m, v) => m + v.images.length, 0), 0);
  const records = new Map<string, ImageRecord>();
  /** Truth diameter of each finding per patient and visit, for "did it really grow". */
  const diameterAt = new Map<string, number>();
  const alerts: AlertCondition[] = [];
  let done = 0;
  let studies = 0;
  for (const patient of truth.patients) {
    const observations: FollowupObservation[] = [];
    for (const visit of patient.visits) {
      studies += 1;
      const date = isoStudyDate(visit.studyDate);
      for (const image of visit.images) {
        for (const f of image.findings) diameterAt.set(`${f.id}@${visit.index}`, f.diameterMm);
        const { attrs, input } = await modelInputFromFile(join(phantomDir, image.file), spec);
        const { score, findings } = await analyzeInput(input, attrs, model);
        const resultId = image.sopInstanceUid;
        records.set(resultId, {
          image,
          visit: visit.index,
          studyKey: visit.studyInstanceUid,
          findings,
          matches: findings.map((f) => matchTruth(image, f)),
        });
        observations.push({
          resultId,
          patientKey: patient.patientId,
          studyKey: visit.studyInstanceUid,
          studyDate: date,
          laterality: image.laterality,
          view: image.view,
          clinicId: 'evaluation',
          deviceId: 'evaluation',
          createdAt: `${date}T09:00:00.000Z`,
          score,
          findings,
          imageWidthMm: image.columns * image.pixelSpacingMm,
        });
        onProgress?.(++done, total);
      }
    }
    alerts.push(...changeConditions(buildPatientTimeline(patient.patientId, observations), policy));
  }

  const matchOf = (alert: AlertCondition): { record: ImageRecord; match: ImageRecord['matches'][number] } | undefined => {
    const [, resultId, index] = alert.alertKey.split(':');
    const record = records.get(resultId ?? '');
    return record ? { record, match: record.matches[Number(index)] } : undefined;
  };
  /** Whether a real finding in this image grew or appeared since the visit before (image-level kinds). */
  const imageChanged = (resultId: string) => {
    const record = records.get(resultId);
    const visit = record?.visit ?? 0;
    return (record?.image.findings ?? []).some((f) => {
      const before = diameterAt.get(`${f.id}@${visit - 1}`);
      return before === undefined ? visit > 0 : f.diameterMm - before > 1;
    });
  };
  /** Whether the alert is right, and if not, what the truth was instead. */
  const judge = (alert: AlertCondition): { ok: boolean; why: string } => {
    if (alert.kind === 'score-rise' || alert.kind === 'category-upgrade') {
      const ok = imageChanged(alert.alertKey.split(':')[1] ?? '');
      return { ok, why: 'no finding in the image grew or appeared' };
    }
    const m = matchOf(alert);
    if (!m?.match) return { ok: false, why: 'no phantom finding under it (a false positive)' };
    if (m.match === 'lookalike') return { ok: false, why: 'on a benign look-alike' };
    const visit = m.record.visit;
    const before = diameterAt.get(`${m.match.id}@${visit - 1}`);
    const after = diameterAt.get(`${m.match.id}@${visit + 1}`);
    if (alert.kind === 'growth') {
      const ok = before !== undefined && m.match.diameterMm - before > 1;
      return { ok, why: `true size ${before?.toFixed(1) ?? '—'} → ${m.match.diameterMm.toFixed(1)} mm` };
    }
    if (alert.kind === 'new-finding') {
      // Right when nothing a reader (or the model, validated from 5 mm) could see was there before.
      const ok = before === undefined || before < 5;
      return { ok, why: `${m.match.behaviour} finding, ${before?.toFixed(1)} mm at the visit before (missed then)` };
    }
    // The finding was last seen here and is gone at the next study: right when it really resolved.
    if (alert.kind === 'resolved-finding') {
      return { ok: after === undefined, why: `still there at the next visit (${after?.toFixed(1)} mm): missed then` };
    }
    return { ok: false, why: 'not judged' };
  };

  // Cross-view corroboration, by the engine's rule: a finding in the other view (CC ↔ MLO) of the
  // same breast, at the alert's own study, within the policy's distance from the chest wall.
  const byView = new Map<string, ImageRecord>();
  for (const record of records.values()) byView.set(`${record.studyKey}|${record.image.laterality}${record.image.view}`, record);
  const corroborated = (alert: AlertCondition): boolean | undefined => {
    const m = matchOf(alert);
    const [, , index] = alert.alertKey.split(':');
    const f = m?.record.findings[Number(index)];
    if (!m || !f) return undefined;
    const { laterality, view } = m.record.image;
    // The alert's own study: for "no longer seen", the study where the finding is missing.
    const other = byView.get(`${alert.studyKey}|${laterality}${view === 'CC' ? 'MLO' : 'CC'}`);
    return (other?.findings ?? []).some((g) => Math.abs(g.x - f.x) <= policy.crossViewTolerance);
  };
  const crossView: Record<string, { correct: [number, number]; wrong: [number, number] }> = {};

  const byKind: Record<string, KindFigures> = {};
  const wrongExamples: string[] = [];
  for (const alert of alerts) {
    if (alert.kind === 'overdue') continue; // a matter of dates, not of images
    const figures = byKind[alert.kind] ?? { alerts: 0, correct: 0, precision: 0 };
    byKind[alert.kind] = figures;
    figures.alerts += 1;
    const verdict = judge(alert);
    const seenInOtherView = corroborated(alert);
    if (seenInOtherView !== undefined) {
      const c = crossView[alert.kind] ?? { correct: [0, 0], wrong: [0, 0] };
      crossView[alert.kind] = c;
      const bucket = verdict.ok ? c.correct : c.wrong;
      bucket[1] += 1;
      if (seenInOtherView) bucket[0] += 1;
    }
    if (verdict.ok) figures.correct += 1;
    else if (wrongExamples.length < 20) wrongExamples.push(`${alert.kind}: ${alert.reason} — truth: ${verdict.why}`);
  }
  for (const figures of Object.values(byKind)) figures.precision = round3(figures.correct / Math.max(1, figures.alerts));

  // Recall: every clear growth (≥ 3.5 mm and ≥ 25 %, past both alert thresholds with margin) and
  // every appearance of a new finding ≥ 5 mm that the model could be expected to see.
  const growthAlertedOn = new Set<string>();
  const newAlertedOn = new Set<string>();
  for (const alert of alerts) {
    const m = matchOf(alert);
    if (!m?.match || m.match === 'lookalike') continue;
    const key = `${m.match.id}@${m.record.visit}`;
    if (alert.kind === 'growth') growthAlertedOn.add(key);
    if (alert.kind === 'new-finding') newAlertedOn.add(key);
  }
  const growthEvents = new Set<string>();
  const newEvents = new Set<string>();
  for (const p of truth.patients) {
    for (const v of p.visits) {
      for (const image of v.images) {
        for (const f of image.findings) {
          const before = diameterAt.get(`${f.id}@${v.index - 1}`);
          const key = `${f.id}@${v.index}`;
          if (before !== undefined && f.diameterMm - before >= 3.5 && (f.diameterMm - before) / before >= 0.25)
            growthEvents.add(key);
          if (f.behaviour === 'new' && before === undefined && v.index > 0 && f.diameterMm >= 5) newEvents.add(key);
        }
      }
    }
  }
  // Why clear growth went unreported: the model missed the finding at one of the two visits (in
  // every view), or it saw it at both and the engine did not link or flag it.
  const detectedAt = new Set<string>();
  for (const record of records.values()) {
    const { visit } = record;
    const view = `${record.image.laterality}${record.image.view}`;
    for (const m of record.matches) {
      if (!m || m === 'lookalike') continue;
      detectedAt.add(`${m.id}@${visit}`);
      detectedAt.add(`${m.id}@${visit}@${view}`);
    }
  }
  const views = ['LCC', 'LMLO', 'RCC', 'RMLO'];
  const missedGrowthExamples: string[] = [];
  /** The model's measurements of one truth finding at a visit and the one before, per view. */
  const describeMiss = (id: string, visit: number) => {
    const parts: string[] = [];
    for (const record of records.values()) {
      const v = record.visit;
      if (v !== visit && v !== visit - 1) continue;
      record.matches.forEach((m, i) => {
        if (m && m !== 'lookalike' && m.id === id) {
          const f = record.findings[i] as Finding;
          parts.push(
            `v${v} ${record.image.laterality}${record.image.view}: true ${m.diameterMm.toFixed(1)} mm, measured ${f.diameterMm.toFixed(1)} mm at (${f.x.toFixed(2)}, ${f.y.toFixed(2)})`,
          );
        }
      });
    }
    return `${id}: ${parts.sort().join('; ')}`;
  };
  const missedGrowth = { modelMissedBefore: 0, modelMissedAfter: 0, seenInOneViewEachTime: 0, seenBothTimesInAView: 0 };
  for (const key of growthEvents) {
    if (growthAlertedOn.has(key)) continue;
    const [id, visit] = key.split('@');
    if (!detectedAt.has(`${id}@${Number(visit) - 1}`)) missedGrowth.modelMissedBefore += 1;
    else if (!detectedAt.has(key)) missedGrowth.modelMissedAfter += 1;
    else if (views.some((v) => detectedAt.has(`${id}@${Number(visit) - 1}@${v}`) && detectedAt.has(`${key}@${v}`))) {
      missedGrowth.seenBothTimesInAView += 1;
      if (missedGrowthExamples.length < 10) missedGrowthExamples.push(describeMiss(id ?? '', Number(visit)));
    } else missedGrowth.seenInOneViewEachTime += 1;
  }
  return {
    patients: truth.patients.length,
    studies,
    images: records.size,
    byKind,
    recall: {
      growth: {
        events: growthEvents.size,
        alerted: [...growthEvents].filter((k) => growthAlertedOn.has(k)).length,
        missed: missedGrowth,
      },
      newFinding: { events: newEvents.size, alerted: [...newEvents].filter((k) => newAlertedOn.has(k)).length },
    },
    alertsPerPatient: round3(alerts.filter((a) => a.kind !== 'overdue').length / Math.max(1, truth.patients.length)),
    crossView,
    missedGrowthExamples,
    wrongExamples,
  };
}
