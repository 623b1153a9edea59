import type Database from 'better-sqlite3';
import {
  type AuditEntry,
  type AuditFilter,
  type AuditInput,
  type AuditStore,
  type AuditVerification,
  verifyChain,
} from '../../audit/audit-store.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import { AUDIT_COLUMNS, auditEntryFromRow, auditRowValues, nextAuditEntry } from '../audit-rows.js';
import { wrap } from './sqlite-wrap.js';

type Row = Record<string, string | number | null>;

export class SqliteAuditStore implements AuditStore {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {
    this.s = {
      last: db.prepare('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare(
        `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map(() => '?').join(', ')})`,
      ),
      all: db.prepare('SELECT * FROM audit_log ORDER BY seq'),
    };
  }

  /** Resolves once the entry is on disk: an action whose audit entry cannot be written does not happen. */
  async append(input: AuditInput): Promise<AuditEntry> {
    const entry = await wrap('audit append', () =>
      this.db
        .transaction((): AuditEntry => {
          const entry = nextAuditEntry(this.s.last.get() as { seq: number; hash: string } | undefined, input);
          this.s.insert.run(...auditRowValues(entry));
          return entry;
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
      if (filter.targetId) {
        where.push('target_id = ?');
        args.push(filter.targetId);
      }
      const after = decodeCursor(filter.cursor, 1);
      if (after) {
        where.push('seq < ?');
        args.push(after[0] as number);
      }
      const rows = this.db
        .prepare(`SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT ?`)
        .all(...args, filter.limit + 1) as Row[];
      return toPage(rows, filter.limit, auditEntryFromRow, (r) => [r.seq as number]);
    });
  }

  verify(): Promise<AuditVerification> {
    const rows = this.s.all;
    // Streamed row by row: a long log is never held in memory whole.
    return wrap('audit verify', () =>
      verifyChain(
        (function* () {
          for (const row of rows.iterate() as Iterable<Row>) yield auditEntryFromRow(row);
        })(),
      ),
    );
  }
}
