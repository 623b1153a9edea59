import type { Finding } from '@vigil/shared';

/** One non-shadow inference result as the follow-up engine sees it (de-identified, no I/O). */
export interface FollowupObservation {
  resultId: string;
  patientKey: string;
  studyKey: string;
  /** YYYY-MM-DD */
  studyDate: string;
  laterality: 'L' | 'R' | 'U';
  view: string;
  clinicId: string;
  deviceId: string;
  createdAt: string;
  score: number;
  findings: readonly Finding[];
  /** Width of the image in mm (columns × pixel spacing): turns a diameter into image units. */
  imageWidthMm: number;
  /** Share of the image showing tissue, as the edge measured it (absent from edges before 2026-12). */
  tissueFraction?: number;
}

/** A finding at one time point, pointing back at the result (and index) it came from. */
export interface TrackPoint {
  resultId: string;
  findingIndex: number;
  studyKey: string;
  studyDate: string;
  x: number;
  y: number;
  diameterMm: number;
  score: number;
}

/** The same lesion measured study after study. */
export interface FindingTrack {
  trackId: string;
  points: TrackPoint[];
}

export interface SeriesStudy {
  studyKey: string;
  studyDate: string;
  resultId: string;
  clinicId: string;
  /** The device whose result this is (with clinicId: whose evidence). */
  deviceId: string;
  score: number;
  category: number;
  /** When the hub received the result (the order views arrived in). */
  createdAt: string;
  /** Width of the image in mm: turns a diameter into image units. */
  imageWidthMm: number;
  /** trackId for each of the result's findings, in the result's order. */
  trackIds: string[];
}

/** One laterality × view of one patient over time. */
export interface TimelineSeries {
  laterality: 'L' | 'R' | 'U';
  view: string;
  studies: SeriesStudy[];
  tracks: FindingTrack[];
}

export interface PatientTimeline {
  patientKey: string;
  series: TimelineSeries[];
  /**
   * Every study of the patient, oldest first, with the highest category among its images. A study
   * none of whose images shows tissue (blank or empty exposures) is listed with `analysable: false`
   * and category 0: it is no follow-up, so it neither sets the due date nor closes an overdue alert.
   */
  studies: {
    studyKey: string;
    studyDate: string;
    clinicId: string;
    deviceId: string;
    category: number;
    score: number;
    analysable: boolean;
  }[];
}

export type AlertKind = 'growth' | 'new-finding' | 'resolved-finding' | 'score-rise' | 'category-upgrade' | 'overdue';
export type AlertSeverity = 'info' | 'warning' | 'critical';
/**
 * Where an alert is listed: the clinician's inbox (warning, critical: changes with corroborating
 * evidence) or "to review" (info: lower-confidence signals, counted and listed apart).
 */
export type AlertLevel = 'inbox' | 'review';
export const alertLevel = (severity: AlertSeverity): AlertLevel => (severity === 'info' ? 'review' : 'inbox');

/**
 * A condition the engine found in a timeline. `alertKey` is deterministic (derived from immutable
 * result ids), so recomputing a timeline never duplicates an alert and keeps its lifecycle.
 */
export interface AlertCondition {
  alertKey: string;
  kind: AlertKind;
  severity: AlertSeverity;
  patientKey: string;
  laterality: 'L' | 'R' | 'U' | null;
  view: string | null;
  studyKey: string;
  studyDate: string;
  trackId: string | null;
  /** A sentence a clinician can read. */
  reason: string;
  figures: Record<string, number>;
}

/** A condition with the clinic and device whose evidence (result) raised it. */
export interface AttributedCondition extends AlertCondition {
  clinicId: string;
  deviceId: string;
}
