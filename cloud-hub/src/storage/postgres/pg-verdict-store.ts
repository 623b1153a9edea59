import { randomUUID } from 'node:crypto';
import type pg from 'pg';
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
import { inTransaction, Params, pgFragment, rows } from './pg-client.js';

/** Verdicts on PostgreSQL; triggers refuse UPDATE, DELETE and TRUNCATE (migration v5). */
export class PgVerdictStore implements VerdictStore {
  constructor(private readonly pool: pg.Pool) {}

  append(verdicts: readonly NewVerdict[]): Promise<VerdictRecord[]> {
    return inTransaction(this.pool, 'verdict append', async (c) => {
      // Amendments of one subject from two replicas at once each supersede the one before.
      const subjects = [...new Set(verdicts.map((v) => v.subject))].sort();
      await c.query("SELECT pg_advisory_xact_lock(hashtextextended('verdict:' || s, 0)) FROM unnest($1::text[]) AS s", [
        subjects,
      ]);
      const createdAt = new Date().toISOString();
      const out: VerdictRecord[] = [];
      const placeholders = VERDICT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
      for (const v of verdicts) {
        const latest = await c.query('SELECT verdict_id FROM verdicts WHERE subject = $1 ORDER BY seq DESC LIMIT 1', [v.subject]);
        const record = stampVerdict(v, randomUUID(), createdAt, (latest.rows[0]?.verdict_id as string | undefined) ?? null);
        await c.query(`INSERT INTO verdicts (${VERDICT_COLUMNS.join(', ')}) VALUES (${placeholders})`, verdictRowValues(record));
        out.push(record);
      }
      return out;
    });
  }

  private where(p: Params, filter: VerdictFilter | ReviewFilter): string {
    return [CURRENT_VERDICT, ...verdictConditions(filter).map((f) => pgFragment(p, f))].join(' AND ');
  }

  async current(filter: VerdictFilter): Promise<VerdictRecord[]> {
    const p = new Params();
    const sql = `SELECT v.* FROM verdicts v WHERE ${this.where(p, filter)} ORDER BY v.seq`;
    return (await rows(this.pool, 'verdict current', sql, p.values)).map(toVerdict);
  }

  async history(subject: string): Promise<VerdictRecord[]> {
    return (await rows(this.pool, 'verdict history', 'SELECT * FROM verdicts WHERE subject = $1 ORDER BY seq', [subject])).map(
      toVerdict,
    );
  }

  async deviceFacts(deviceId: string): Promise<ReviewFacts> {
    const sql = `SELECT v.*, r.body_json, r.received_at FROM verdicts v JOIN results r ON r.message_id = v.result_id
      WHERE ${CURRENT_VERDICT} AND r.device_id = $1 ORDER BY v.seq`;
    return factsFromJoin(await rows(this.pool, 'verdict device facts', sql, [deviceId]));
  }

  reviewFacts(filter: ReviewFilter): Promise<ReviewFacts> {
    // One snapshot: verdicts and results agree even while clinicians keep judging.
    return inTransaction(this.pool, 'verdict review facts', async (c) => {
      await c.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
      const p = new Params();
      const where = this.where(p, filter);
      const verdicts = (await c.query(`SELECT v.* FROM verdicts v WHERE ${where} ORDER BY v.seq`, p.values)).rows.map(toVerdict);
      const q = new Params();
      const inner = this.where(q, filter);
      const range: string[] = [];
      if (filter.from) range.push(`r.created_at >= ${q.add(filter.from)}`);
      if (filter.to) range.push(`r.created_at < ${q.add(filter.to)}`);
      const results = (
        await c.query(
          `SELECT r.body_json, r.received_at FROM results r
            JOIN (SELECT DISTINCT v.patient_key, v.study_key FROM verdicts v WHERE ${inner}) s
              ON r.patient_key = s.patient_key AND r.study_key = s.study_key
            ${range.length ? `WHERE ${range.join(' AND ')}` : ''}
            ORDER BY r.created_at, r.message_id`,
          q.values,
        )
      ).rows.map(toStoredResult);
      return { verdicts, results };
    });
  }
}
