import type { NewOpsAlert, OpsAlert, OpsAlertFilter } from '../ops/ops-alert-store.js';
import { clinicScope, type Fragment } from './query-conditions.js';

type Row = Record<string, unknown>;

export const OPS_ALERT_COLUMNS = ['alert_key', 'kind', 'severity', 'clinic_id', 'summary', 'details_json', 'created_at'] as const;

export function opsAlertValues(a: NewOpsAlert, createdAt: string): (string | null)[] {
  return [a.alertKey, a.kind, a.severity, a.clinicId, a.summary, JSON.stringify(a.details), createdAt];
}

export function toOpsAlert(row: Row): OpsAlert {
  return {
    alertKey: row.alert_key as string,
    kind: row.kind as OpsAlert['kind'],
    severity: row.severity as OpsAlert['severity'],
    clinicId: (row.clinic_id as string | null) ?? null,
    summary: row.summary as string,
    details: JSON.parse(row.details_json as string) as Record<string, unknown>,
    createdAt: row.created_at as string,
    acknowledgedBy: (row.acknowledged_by as string | null) ?? null,
    acknowledgedAt: (row.acknowledged_at as string | null) ?? null,
  };
}

export function opsAlertConditions(f: OpsAlertFilter): Fragment[] {
  const out: Fragment[] = [];
  if (f.open) out.push({ sql: 'acknowledged_at IS NULL', values: [] });
  if (f.clinicScope) out.push(clinicScope(f.clinicScope));
  return out;
}
