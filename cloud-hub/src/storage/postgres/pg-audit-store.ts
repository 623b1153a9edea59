import { VigilError } from '@vigil/shared';
import type pg from 'pg';
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

type Row = Record<string, unknown>;

function toEntry(row: Row): AuditEntry {
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

/** Any outage or refusal from the server, as the store's coded error. */
async function coded<T>(what: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof VigilError) throw error;
    throw new VigilError('VIGIL_STATE_STORE_UNAVAILABLE', `state store (PostgreSQL) ${what}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** The hash-chained audit log on PostgreSQL: the same chain as on SQLite (`auditHash`), append-only in the database. */
export class PgAuditStore implements AuditStore {
  constructor(private readonly pool: pg.Pool) {}

  /**
   * Appends under an exclusive lock on the log's tail (the table lock serialises appenders across
   * connections and hub replicas, so two entries never claim the same predecessor). Resolves after
   * the commit, which PostgreSQL has made durable.
   */
  append(input: AuditInput): Promise<AuditEntry> {
    return coded('audit append', async () => {
      const client = await this.pool.connect();
      try {
        await client.query('BEGIN');
        await client.query('LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE');
        const last = (await client.query('SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1')).rows[0] as
          | { seq: string; hash: string }
          | undefined;
        const body = {
          seq: Number(last?.seq ?? 0) + 1,
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
        await client.query(
          `INSERT INTO audit_log (seq, at, actor, actor_role, action, target_type, target_id, patient_key, outcome,
             details_json, ip, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
          [
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
          ],
        );
        await client.query('COMMIT');
        return { ...body, prevHash, hash };
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.release();
      }
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
      const after = decodeCursor(filter.cursor, 1);
      if (after) add('seq < ?', after[0] as number);
      args.push(filter.limit + 1);
      const rows = (
        await this.pool.query(
          `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq DESC LIMIT $${args.length}`,
          args,
        )
      ).rows as Row[];
      return toPage(rows, filter.limit, toEntry, (r) => [Number(r.seq)]);
    });
  }

  verify(): Promise<AuditVerification> {
    return coded('audit verify', async () =>
      verifyChain(((await this.pool.query('SELECT * FROM audit_log ORDER BY seq')).rows as Row[]).map(toEntry)),
    );
  }
}
