import { createHash } from 'node:crypto';
import type { Page } from '../state/pagination.js';

export interface AuditInput {
  actor: string;
  actorRole: string;
  /** Dotted verb, e.g. `patient.timeline.read`, `alert.acknowledge`, `auth.login`. */
  action: string;
  targetType: string;
  targetId: string;
  /** Set when the action read or changed a patient's data, so a patient's accesses can be listed. */
  patientKey?: string | null;
  outcome: 'success' | 'failure';
  details?: Record<string, unknown>;
  ip: string;
}

export interface AuditEntry extends Required<Omit<AuditInput, 'details'>> {
  seq: number;
  at: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditFilter {
  actor?: string;
  patientKey?: string;
  action?: string;
  targetId?: string;
  limit: number;
  cursor?: string;
}

export interface AuditVerification {
  ok: boolean;
  entries: number;
  /** The first entry whose hash does not follow from its content and predecessor. */
  firstBadSeq: number | null;
}

export const AUDIT_GENESIS = '0'.repeat(64);

/**
 * The hash that chains an entry to its predecessor: SHA-256 over the previous hash and the
 * entry's content in a fixed field order. Changing, removing or reordering any entry breaks every
 * hash after it.
 */
export function auditHash(prevHash: string, e: Omit<AuditEntry, 'hash' | 'prevHash'>): string {
  const content = JSON.stringify([
    e.seq,
    e.at,
    e.actor,
    e.actorRole,
    e.action,
    e.targetType,
    e.targetId,
    e.patientKey,
    e.outcome,
    e.details,
    e.ip,
  ]);
  return createHash('sha256').update(prevHash).update('\n').update(content).digest('hex');
}

/** Walks a log oldest first and names the first entry whose hash does not follow (every engine's verify). */
export function verifyChain(entries: Iterable<AuditEntry>): AuditVerification {
  let prev = AUDIT_GENESIS;
  let count = 0;
  let expectedSeq = 1;
  for (const e of entries) {
    count += 1;
    const { hash, prevHash, ...body } = e;
    if (e.seq !== expectedSeq || prevHash !== prev || auditHash(prev, body) !== hash) {
      return { ok: false, entries: count, firstBadSeq: e.seq };
    }
    prev = hash;
    expectedSeq += 1;
  }
  return { ok: true, entries: count, firstBadSeq: null };
}

/** Append-only, hash-chained record of every read of patient data and every change. */
export interface AuditStore {
  append(input: AuditInput): Promise<AuditEntry>;
  list(filter: AuditFilter): Promise<Page<AuditEntry>>;
  verify(): Promise<AuditVerification>;
}
