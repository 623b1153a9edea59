import type Database from 'better-sqlite3';
import {
  AUDIT_GENESIS,
  type AuditEntry,
  type AuditFilter,
  type AuditInput,
  type AuditStore,
  type AuditVerification,
  auditHash,
  verifyChain,
} from '../../audit/audit-store.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import { wrap } from './sqlite-wrap.js';

type Row = Record<string, string | number | null>;

function toEntry(row: Row): AuditEntry {
  return {
    seq: row.seq as number,
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

export class SqliteAuditStore implements AuditStore {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {
    this.s = {
      last: db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare(`INSERT INTO audit_log
        (seq, at, actor, actor_role, action, target_type, target_id, patient_key, outcome, details_json, ip, prev_hash, hash)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
      all: db.prepare('SELECT * FROM audit_log ORDER BY seq'),
    };
  }

  /** Resolves once the entry is on disk: an action whose audit entry cannot be written does not happen. */
  async append(input: AuditInput): Promise<AuditEntry> {
    const entry = await wrap('audit append', () =>
      this.db
        .transaction((): AuditEntry => {
          const last = this.s.last.get() as { seq: number; hash: string } | undefined;
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
          const hash = auditHash(prevHash, body);
          this.s.insert.run(
            body.seq,
            body.at,
            body.actor,
            body.actorRole,
            body.action,
            body.targetType,
            body.targetId,
            body.patientKey,
            body.outcome,
            JSON.stringify(body.details),
            body.ip,
            prevHash,
            hash,
          );
          return { ...body, prevHash, hash };
        })
        .immediate(),
    );
    await this.durable('audit append');
    return entry;
  }

  list(filter: AuditFilter): Promise<Page<AuditEntry>> {
    return wrap('audit list', () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (filter.actor) {
        where.push('actor = ?');
        args.push(filter.actor);
      }
      if (filter.patientKey) {
        where.push('patient_key = ?');
        args.push(filter.patientKey);
      }
      if (filter.action) {
        where.push('action = ?');
        args.push(filter.action);
      }
      const after = decodeCursor(filter.cursor, 1);
      if (after) {
        where.push('seq < ?');
        args.push(after[0] as number);
      }
      const rows = this.db
        .prepare(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`)
        .all(...args, filter.limit + 1) as Row[];
      return toPage(rows, filter.limit, toEntry, (r) => [r.seq as number]);
    });
  }

  verify(): Promise<AuditVerification> {
    const rows = this.s.all;
    // Streamed row by row: a long log is never held in memory whole.
    return wrap('audit verify', () =>
      verifyChain(
        (function* () {
          for (const row of rows.iterate() as Iterable<Row>) yield toEntry(row);
        })(),
      ),
    );
  }
}
