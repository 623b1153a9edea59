/**
 * Alerts for ops rather than clinicians: a model's real-world performance changed in a way the
 * intervals say is real, or a patient pseudonym was reported by another clinic's device. Keyed deterministically, so the watch that raises them can run on any
 * replica, any number of times, and each change is raised once.
 */
export interface OpsAlert {
  alertKey: string;
  kind: 'performance-change' | 'cross-clinic-patient' | 'gpu-unused';
  severity: 'info' | 'warning';
  /** The clinic the figures are about; null: every clinic. */
  clinicId: string | null;
  summary: string;
  details: Record<string, unknown>;
  createdAt: string;
  acknowledgedBy: string | null;
  acknowledgedAt: string | null;
}

export type NewOpsAlert = Omit<OpsAlert, 'createdAt' | 'acknowledgedBy' | 'acknowledgedAt'>;

export interface OpsAlertFilter {
  /** Only alerts nobody acknowledged yet. */
  open?: boolean;
  /** A clinic-scoped user's clinics: their clinics' alerts (network-wide ones are not theirs). */
  clinicScope?: readonly string[];
  limit: number;
}

export interface OpsAlertStore {
  /** Stores the alerts not raised before (by key); returns those, newest first never reordered. */
  raise(alerts: readonly NewOpsAlert[]): Promise<OpsAlert[]>;
  list(filter: OpsAlertFilter): Promise<OpsAlert[]>;
  get(alertKey: string): Promise<OpsAlert | undefined>;
  /** Marks an alert seen; VIGIL_API_NOT_FOUND when it does not exist. Acknowledging twice keeps the first. */
  acknowledge(alertKey: string, by: string): Promise<OpsAlert>;
}
