/**
 * Clinicians' verdicts on what the model reported: the ground truth the hub measures real-world
 * performance against. Verdicts are append-only: an amendment is a new verdict on the same subject
 * that supersedes the previous one, so every change keeps its history.
 */

export const VERDICT_KINDS = ['finding', 'missed', 'assessment', 'outcome'] as const;
export type VerdictKind = (typeof VERDICT_KINDS)[number];

export const FINDING_VERDICTS = ['confirmed', 'dismissed', 'uncertain'] as const;
export type FindingVerdict = (typeof FINDING_VERDICTS)[number];

export const DISMISS_REASONS = ['benign', 'artefact', 'not-seen', 'duplicate'] as const;
export type DismissReason = (typeof DISMISS_REASONS)[number];

export const OUTCOMES = ['malignant', 'benign', 'stable'] as const;
/** Biopsy malignant / biopsy benign / stable on follow-up. */
export type Outcome = (typeof OUTCOMES)[number];

export const VERDICT_SOURCES = ['dashboard', 'api', 'import'] as const;
export type VerdictSource = (typeof VERDICT_SOURCES)[number];

/** A clinician's call on one finding the model reported. */
export interface FindingVerdictValue {
  verdict: FindingVerdict;
  /** Why a finding was dismissed (required then, absent otherwise). */
  reason?: DismissReason;
  note?: string;
}

/** A finding the model did not report, placed on the image where the clinician saw it. */
export interface MissedFindingValue {
  resultId: string;
  /** Position normalised to the image (0..1), like a model finding. */
  x: number;
  y: number;
  diameterMm: number;
  /** Set by an amendment that takes the missed finding back. */
  withdrawn?: boolean;
  note?: string;
}

/** The clinician's final assessment of a study. */
export interface AssessmentValue {
  /** BI-RADS 0–6. */
  birads: number;
}

/** What became of a study's findings, known later (often from another system). */
export interface OutcomeValue {
  outcome: Outcome;
  /** The breast the outcome concerns; absent: the study as a whole. */
  laterality?: 'L' | 'R';
  /** YYYY-MM-DD */
  date?: string;
}

export type VerdictValue = FindingVerdictValue | MissedFindingValue | AssessmentValue | OutcomeValue;

/** One stored verdict. `subject` names what it judges; the newest verdict on a subject is current. */
export interface VerdictRecord {
  verdictId: string;
  /**
   * `finding:<resultId>:<index>`, `missed:<id>`, `assessment:<studyKey>` or
   * `outcome:<studyKey>:<L|R|both>` (one outcome per breast, or one for the study).
   */
  subject: string;
  kind: VerdictKind;
  patientKey: string;
  studyKey: string;
  /** The clinic whose study it judges (the clinic of the study's results). */
  clinicId: string;
  resultId: string | null;
  findingIndex: number | null;
  value: VerdictValue;
  author: string;
  source: VerdictSource;
  createdAt: string;
  /** The verdict this one amends; null for the first verdict on the subject. */
  supersedes: string | null;
}

/** A verdict to append; the store assigns its id, time and `supersedes`. */
export type NewVerdict = Omit<VerdictRecord, 'verdictId' | 'createdAt' | 'supersedes'>;

export function findingSubject(resultId: string, findingIndex: number): string {
  return `finding:${resultId}:${findingIndex}`;
}

export function assessmentSubject(studyKey: string): string {
  return `assessment:${studyKey}`;
}

export function outcomeSubject(studyKey: string, laterality: 'L' | 'R' | undefined): string {
  return `outcome:${studyKey}:${laterality ?? 'both'}`;
}

/** BI-RADS categories that call a study positive (recall or biopsy): 0, 4, 5 and 6. */
export function biradsPositive(birads: number): boolean {
  return birads === 0 || birads >= 4;
}
