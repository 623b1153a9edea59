import { randomUUID } from 'node:crypto';
import type { ReviewFacts, ReviewFilter, VerdictFilter, VerdictStore } from '../../verdicts/verdict-store.js';
import type { NewVerdict, VerdictRecord } from '../../verdicts/verdict-types.js';
import { toStoredResult } from '../state-rows.js';
import {
  CURRENT_VERDICT,
  factsFromJoin,
  stampVerdict,
  toVerdict,
  VERDICT_COLUMNS,
  verdictConditions,
  verdictRowValues,
} from '../verdict-rows.js';
import type { SqlPort } from './sql-port.js';

/**
 * Verdicts on any engine: append-only (PostgreSQL's triggers refuse UPDATE, DELETE and TRUNCATE),
 * each new verdict superseding its subject's latest, chosen inside the insert itself.
 */
export class SqlVerdictStore implements VerdictStore {
  constructor(private readonly db: SqlPort) {}

  async append(verdicts: readonly NewVerdict[]): Promise<VerdictRecord[]> {
    const createdAt = new Date().toISOString();
    const records = verdicts.map((v) => stampVerdict(v, randomUUID(), createdAt, null));
    // The superseded verdict is read by the insert, after the lock: amendments of one subject from
    // two replicas at once each supersede the one before.
    const values = VERDICT_COLUMNS.map((c) =>
      c === 'supersedes' ? '(SELECT w.verdict_id FROM verdicts w WHERE w.subject = ? ORDER BY w.seq DESC LIMIT 1)' : '?',
    ).join(', ');
    const insert = `INSERT INTO verdicts (${VERDICT_COLUMNS.join(', ')}) VALUES (${values}) RETURNING supersedes`;
    const done = await this.db.batch('verdict append', [
      ...this.db.dialect.lockKeys(
        'verdict',
        records.map((r) => r.subject),
      ),
      ...records.map((r) => ({
        sql: insert,
        params: verdictRowValues(r).map((value, k) => (VERDICT_COLUMNS[k] === 'supersedes' ? r.subject : value)),
      })),
    ]);
    const inserted = done.slice(done.length - records.length);
    return records.map((r, k) => ({ ...r, supersedes: (inserted[k]?.rows[0]?.supersedes as string | null) ?? null }));
  }

  private where(filter: VerdictFilter | ReviewFilter): { sql: string; values: unknown[] } {
    const conditions = [{ sql: CURRENT_VERDICT, values: [] as unknown[] }, ...verdictConditions(filter)];
    return { sql: conditions.map((c) => c.sql).join(' AND '), values: conditions.flatMap((c) => c.values) };
  }

  async current(filter: VerdictFilter): Promise<VerdictRecord[]> {
    const where = this.where(filter);
    return (
      await this.db.all('verdict current', `SELECT v.* FROM verdicts v WHERE ${where.sql} ORDER BY v.seq`, where.values)
    ).map(toVerdict);
  }

  async history(subject: string): Promise<VerdictRecord[]> {
    return (await this.db.all('verdict history', 'SELECT * FROM verdicts WHERE subject = ? ORDER BY seq', [subject])).map(
      toVerdict,
    );
  }

  async deviceFacts(deviceId: string): Promise<ReviewFacts> {
    const sql = `SELECT v.*, r.body_json, r.received_at FROM verdicts v JOIN results r ON r.message_id = v.result_id
      WHERE ${CURRENT_VERDICT} AND r.device_id = ? ORDER BY v.seq`;
    return factsFromJoin(await this.db.all('verdict device facts', sql, [deviceId]));
  }

  async reviewFacts(filter: ReviewFilter): Promise<ReviewFacts> {
    const where = this.where(filter);
    const range = [
      ...(filter.from ? [{ sql: 'r.created_at >= ?', value: filter.from }] : []),
      ...(filter.to ? [{ sql: 'r.created_at < ?', value: filter.to }] : []),
    ];
    // One snapshot: verdicts and results agree even while clinicians keep judging.
    const [verdicts = [], results = []] = await this.db.snapshot('verdict review facts', [
      { sql: `SELECT v.* FROM verdicts v WHERE ${where.sql} ORDER BY v.seq`, params: where.values },
      {
        sql: `SELECT r.body_json, r.received_at FROM results r
          JOIN (SELECT DISTINCT v.patient_key, v.study_key FROM verdicts v WHERE ${where.sql}) s
            ON r.patient_key = s.patient_key AND r.study_key = s.study_key
          ${range.length ? `WHERE ${range.map((r) => r.sql).join(' AND ')}` : ''}
          ORDER BY r.created_at, r.message_id`,
        params: [...where.values, ...range.map((r) => r.value)],
      },
    ]);
    return { verdicts: verdicts.map(toVerdict), results: results.map(toStoredResult) };
  }
}
