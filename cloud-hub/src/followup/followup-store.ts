import type { Page } from '../state/pagination.js';
import type {
  AlertCondition,
  AlertKind,
  AlertLevel,
  AlertSeverity,
  AttributedCondition,
  FollowupObservation,
} from './followup-types.js';

export interface PatientSummary {
  patientKey: string;
  /** The clinic of the patient's first study (stable: never the last sender's). */
  clinicId: string;
  /** Every clinic whose studies are in the timeline, in the order they first appeared (ADR 0017). */
  clinicIds: string[];
  firstStudyDate: string;
  lastStudyDate: string;
  lastStudyKey: string;
  studies: number;
  category: number;
  dueDate: string | null;
  openAlerts: number;
  updatedAt: string;
}

export type AlertStatus = 'open' | 'acknowledged' | 'resolved';

export interface AlertRecord extends AlertCondition {
  /** The clinic whose evidence (result) raised the alert. */
  clinicId: string;
  /** The device whose result raised the alert (null for alerts raised before this was recorded). */
  deviceId: string | null;
  status: AlertStatus;
  createdAt: string;
  updatedAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
  resolvedBy: string | null;
  resolvedAt: string | null;
  note: string | null;
}

export interface AlertFilter {
  status?: AlertStatus;
  kind?: AlertKind;
  severity?: AlertSeverity;
  /** inbox: warning and critical; review: info ("to review"). */
  level?: AlertLevel;
  patientKey?: string;
  clinicId?: string;
  /** A clinic-scoped user's clinics: only patients seen at one of them (absent: the whole network). */
  clinicScope?: readonly string[];
  limit: number;
  cursor?: string;
}

export interface PatientFilter {
  clinicId?: string;
  /** A clinic-scoped user's clinics: only patients seen at one of them (absent: the whole network). */
  clinicScope?: readonly string[];

  /** Only patients whose follow-up was due before this date (YYYY-MM-DD). */
  dueBefore?: string;
  limit: number;
  cursor?: string;
}

export interface TimelineSaveOutcome {
  opened: AlertRecord[];
  /** Open or acknowledged alerts whose condition no longer holds (e.g. the overdue study arrived). */
  autoResolved: AlertRecord[];
  /**
   * Open alerts whose wording, severity or figures changed with new evidence (e.g. the other view of
   * the study arrived). Acknowledged alerts keep what the clinician saw.
   */
  updated: AlertRecord[];
}

/** One patient's recomputed summary and the alert conditions that hold now. */
export interface TimelineSave {
  summary: Omit<PatientSummary, 'openAlerts' | 'updatedAt'>;
  conditions: AttributedCondition[];
}

/** Persistence of the follow-up engine's inputs (results) and outputs (patient summaries, alerts). */
export interface FollowupStore {
  /** The patient's non-shadow results, as the engine's observations. */
  observationsFor(patientKey: string): Promise<FollowupObservation[]>;
  /** Several patients' observations in one read (absent: no result), each in study-date order. */
  observationsOf(patientKeys: readonly string[]): Promise<Map<string, FollowupObservation[]>>;
  /**
   * Replaces each patient's summary and reconciles their alerts with the engine's current
   * conditions, all in one transaction made durable once (one outcome per entry, in order).
   */
  saveTimelines(entries: TimelineSave[]): Promise<TimelineSaveOutcome[]>;
  getPatient(patientKey: string): Promise<PatientSummary | undefined>;
  /** Several patients' summaries in one read (absent: none stored yet). */
  patientsOf(patientKeys: readonly string[]): Promise<Map<string, PatientSummary>>;
  listPatients(filter: PatientFilter): Promise<Page<PatientSummary>>;
  /** Patients due before `date` whose overdue alert for their latest study does not exist yet. */
  patientsNewlyOverdue(date: string, limit: number): Promise<string[]>;
  /**
   * Patients with a result received in [from, to) that their stored timeline does not include yet
   * (no timeline, or one saved before the result arrived): recomputations a crashed replica owed.
   */
  patientsBehind(from: string, to: string, limit: number): Promise<string[]>;
  listAlerts(filter: AlertFilter): Promise<Page<AlertRecord>>;
  getAlert(alertKey: string): Promise<AlertRecord | undefined>;
  transitionAlert(alertKey: string, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<AlertRecord>;
}
