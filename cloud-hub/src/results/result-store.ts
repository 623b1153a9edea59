import type { ResultMessage } from '@vigil/shared';
import type { Page } from '../state/pagination.js';

export interface StoredResult extends ResultMessage {
  receivedAt: string;
}

export interface ResultFilter {
  clinicId?: string;
  deviceId?: string;
  patientKey?: string;
  /** ISO timestamps bounding createdAt: from inclusive, to exclusive. */
  from?: string;
  to?: string;
  minScore?: number;
  /** Shadow-mode results are for ops comparisons only; clinicians never see them. */
  includeShadow?: boolean;
  /** A clinic-scoped user's clinics: only patients seen at one of them (absent: the whole network). */
  clinicScope?: readonly string[];
  limit: number;
  cursor?: string;
}

/** Selects one model's results for the rollout health gates. */
export interface ModelResultFilter {
  modelName: string;
  /** Exactly this version… */
  modelVersion?: string;
  /** …or any version but this one (the previous models, for a baseline). */
  excludeVersion?: string;
  shadow: boolean;
  deviceIds: readonly string[];
  createdFrom?: string;
  createdBefore?: string;
  limit: number;
}

/** The stored results, as the API, verdicts and rollout gates read them. */
export interface ResultStore {
  countResults(): Promise<number>;
  listResultIds(): Promise<string[]>;
  getResult(messageId: string): Promise<StoredResult | undefined>;
  queryResults(filter: ResultFilter): Promise<Page<StoredResult>>;
  /** Score and total latency (ms) of a model's results, newest first. */
  modelResults(filter: ModelResultFilter): Promise<{ score: number; totalMs: number }[]>;
}
