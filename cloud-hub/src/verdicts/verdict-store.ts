import type { StoredResult } from '../results/result-store.js';
import type { NewVerdict, VerdictRecord } from './verdict-types.js';

export interface VerdictFilter {
  patientKey?: string;
  studyKey?: string;
  /** Only verdicts on studies of these clinics (a clinic-scoped user's view). */
  clinicScope?: readonly string[];
}

export interface ReviewFilter {
  /** Results created in [from, to): ISO timestamps. */
  from?: string;
  to?: string;
  clinicScope?: readonly string[];
}

/** What performance is computed from: the current verdicts and every result of the studies they judge. */
export interface ReviewFacts {
  verdicts: VerdictRecord[];
  /** Shadow results included (the verdict-agreement gate scores candidates with them). */
  results: StoredResult[];
}

/**
 * Clinicians' verdicts, append-only (the engines refuse UPDATE and DELETE on them). Appending a
 * batch is all or nothing, so an import never lands half.
 */
export interface VerdictStore {
  /** Appends every verdict in one transaction; each supersedes its subject's current verdict. */
  append(verdicts: readonly NewVerdict[]): Promise<VerdictRecord[]>;
  /** The current (newest) verdict of each subject matching the filter, oldest subject first. */
  current(filter: VerdictFilter): Promise<VerdictRecord[]>;
  /** Every verdict ever given on one subject, oldest first. */
  history(subject: string): Promise<VerdictRecord[]>;
  reviewFacts(filter: ReviewFilter): Promise<ReviewFacts>;
  /** The current verdicts on one device's results, with those results (its training labels). */
  deviceFacts(deviceId: string): Promise<ReviewFacts>;
}
