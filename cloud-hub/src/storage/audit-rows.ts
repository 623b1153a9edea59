import { AUDIT_GENESIS, type AuditEntry, type AuditInput, auditHash } from '../audit/audit-store.js';

/** The audit_log columns, in the order `auditRowValues` gives them (the same table on every engine). */
export const AUDIT_COLUMNS = [
  'seq',
  'at',
  'actor',
  'actor_role',
  'action',
  'target_type',
  'target_id',
  'patient_key',
  'outcome',
  'details_json',
  'ip',
  'prev_hash',
  'hash',
] as const;

/** The next entry after `last` (the log's tail, or none): numbered, timestamped and chained. */
export function nextAuditEntry(last: { seq: number; hash: string } | undefined, input: AuditInput): AuditEntry {
  const body = {
    seq: (last?.seq ?? 0) + 1,
    at: new Date().toISOString(),
    actor: input.actor,
    actorRole: input.actorRole,
    action: input.action,
    targetType: input.targetType,
    targetId: input.targetId,
    patientKey: input.patientKey ?? null,
    outcome: input.outcome,
    details: input.details ?? {},
    ip: input.ip,
  };
  const prevHash = last?.hash ?? AUDIT_GENESIS;
  return { ...body, prevHash, hash: auditHash(prevHash, body) };
}

/** An entry as the row values of AUDIT_COLUMNS. */
export function auditRowValues(e: AuditEntry): (string | number | null)[] {
  return [
    e.seq,
    e.at,
    e.actor,
    e.actorRole,
    e.action,
    e.targetType,
    e.targetId,
    e.patientKey,
    e.outcome,
    JSON.stringify(e.details),
    e.ip,
    e.prevHash,
    e.hash,
  ];
}

/** A stored row as an entry (PostgreSQL returns BIGINT as a string: `Number` serves both engines). */
export function auditEntryFromRow(row: Record<string, unknown>): AuditEntry {
  return {
    seq: Number(row.seq),
    at: row.at as string,
    actor: row.actor as string,
    actorRole: row.actor_role as string,
    action: row.action as string,
    targetType: row.target_type as string,
    targetId: row.target_id as string,
    patientKey: (row.patient_key as string | null) ?? null,
    outcome: row.outcome as AuditEntry['outcome'],
    details: JSON.parse(row.details_json as string) as Record<string, unknown>,
    ip: row.ip as string,
    prevHash: row.prev_hash as string,
    hash: row.hash as string,
  };
}
