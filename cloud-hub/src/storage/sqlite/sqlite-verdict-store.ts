import { randomUUID } from 'node:crypto';
import type Database from 'better-sqlite3';
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
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

export class SqliteVerdictStore implements VerdictStore {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {
    this.s = {
      latest: db.prepare('SELECT verdict_id FROM verdicts WHERE subject = ? ORDER BY seq DESC LIMIT 1'),
      insert: db.prepare(
        `INSERT INTO verdicts (${VERDICT_COLUMNS.join(', ')}) VALUES (${VERDICT_COLUMNS.map(() => '?').join(', ')})`,
      ),
      history: db.prepare('SELECT * FROM verdicts WHERE subject = ? ORDER BY seq'),
    };
  }

  append(verdicts: readonly NewVerdict[]): Promise<VerdictRecord[]> {
    return durableWrite(
      'verdict append',
      () =>
        this.db.transaction(() => {
          const createdAt = new Date().toISOString();
          return verdicts.map((v) => {
            const previous = this.s.latest.get(v.subject) as { verdict_id: string } | undefined;
            const record = stampVerdict(v, randomUUID(), createdAt, previous?.verdict_id ?? null);
            this.s.insert.run(...verdictRowValues(record));
            return record;
          });
        })(),
      this.durable,
    );
  }

  current(filter: VerdictFilter): Promise<VerdictRecord[]> {
    return wrap('verdict current', () => {
      const conditions = [{ sql: CURRENT_VERDICT, values: [] as string[] }, ...verdictConditions(filter)];
      const sql = `SELECT v.* FROM verdicts v WHERE ${conditions.map((c) => c.sql).join(' AND ')} ORDER BY v.seq`;
      return (this.db.prepare(sql).all(...conditions.flatMap((c) => c.values)) as Row[]).map(toVerdict);
    });
  }

  history(subject: string): Promise<VerdictRecord[]> {
    return wrap('verdict history', () => (this.s.history.all(subject) as Row[]).map(toVerdict));
  }

  deviceFacts(deviceId: string): Promise<ReviewFacts> {
    return wrap('verdict device facts', () =>
      this.db.transaction(() => {
        const rows = this.db
          .prepare(`SELECT v.*, r.body_json, r.received_at FROM verdicts v JOIN results r ON r.message_id = v.result_id
            WHERE ${CURRENT_VERDICT} AND r.device_id = ? ORDER BY v.seq`)
          .all(deviceId) as Row[];
        return factsFromJoin(rows);
      })(),
    );
  }

  reviewFacts(filter: ReviewFilter): Promise<ReviewFacts> {
    return wrap('verdict review facts', () =>
      this.db.transaction(() => {
        const conditions = [{ sql: CURRENT_VERDICT, values: [] as string[] }, ...verdictConditions(filter)];
        const where = conditions.map((c) => c.sql).join(' AND ');
        const args = conditions.flatMap((c) => c.values);
        const verdicts = (this.db.prepare(`SELECT v.* FROM verdicts v WHERE ${where} ORDER BY v.seq`).all(...args) as Row[]).map(
          toVerdict,
        );
        const range: string[] = [];
        const rangeArgs: string[] = [];
        if (filter.from) {
          range.push('r.created_at >= ?');
          rangeArgs.push(filter.from);
        }
        if (filter.to) {
          range.push('r.created_at < ?');
          rangeArgs.push(filter.to);
        }
        const results = (
          this.db
            .prepare(`SELECT r.body_json, r.received_at FROM results r
              JOIN (SELECT DISTINCT v.patient_key, v.study_key FROM verdicts v WHERE ${where}) s
                ON r.patient_key = s.patient_key AND r.study_key = s.study_key
              ${range.length ? `WHERE ${range.join(' AND ')}` : ''}
              ORDER BY r.created_at, r.message_id`)
            .all(...args, ...rangeArgs) as Row[]
        ).map(toStoredResult);
        return { verdicts, results };
      })(),
    );
  }
}
