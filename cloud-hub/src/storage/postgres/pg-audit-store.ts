import type pg from 'pg';
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
import { coded, inTransaction, type Row } from './pg-client.js';

/** The hash-chained audit log on PostgreSQL: the same chain as on SQLite (`auditHash`), append-only in the database. */
export class PgAuditStore implements AuditStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Appends under an exclusive lock on the log's tail (the table lock serialises appenders across
   * connections and hub replicas, so two entries never claim the same predecessor). Resolves after
   * the commit, which PostgreSQL has made durable.
   */
  append(input: AuditInput): Promise<AuditEntry> {
    return inTransaction(this.pool, 'audit append', async (client) => {
      // Lock and read the tail in one round trip (a simple multi-statement query); every read of
      // patient data appends, so round trips here are on the API's hot path.
      const results = (await client.query(
        'LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE; SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1',
      )) as unknown as pg.QueryResult[];
      const last = results[1]?.rows[0] as { seq: string; hash: string } | undefined;
      const entry = nextAuditEntry(last ? { seq: Number(last.seq), hash: last.hash } : undefined, input);
      await client.query(
        `INSERT INTO audit_log (${AUDIT_COLUMNS.join(', ')}) VALUES (${AUDIT_COLUMNS.map((_c, k) => `$${k + 1}`).join(', ')})`,
        auditRowValues(entry),
      );
      return entry;
    });
  }

  list(filter: AuditFilter): Promise<Page<AuditEntry>> {
    return coded('audit list', async () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      const add = (clause: string, value: string | number) => {
        args.push(value);
        where.push(clause.replace('?', `$${args.length}`));
      };
      if (filter.actor) add('actor = ?', filter.actor);
      if (filter.patientKey) add('patient_key = ?', filter.patientKey);
      if (filter.action) add('action = ?', filter.action);
      if (filter.targetId) add('target_id = ?', filter.targetId);
      const after = decodeCursor(filter.cursor, 1);
      if (after) add('seq < ?', after[0] as number);
      args.push(filter.limit + 1);
      const rows = (
        await this.pool.query(
          `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${args.length}`,
          args,
        )
      ).rows as Row[];
      return toPage(rows, filter.limit, auditEntryFromRow, (r) => [Number(r.seq)]);
    });
  }

  verify(): Promise<AuditVerification> {
    return coded('audit verify', async () =>
      verifyChain(((await this.pool.query('SELECT * FROM audit_log ORDER BY seq')).rows as Row[]).map(auditEntryFromRow)),
    );
  }
}
