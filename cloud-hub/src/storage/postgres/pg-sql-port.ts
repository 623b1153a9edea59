import type pg from 'pg';
import {
  numberedPlaceholders,
  type Row,
  type SqlDialect,
  type SqlPort,
  type Statement,
  type StatementResult,
} from '../sql/sql-port.js';
import { changedRelaxed, coded, inTransaction } from './pg-client.js';

/** The SQL port on the hub's PostgreSQL pool (commits are durable: synchronous_commit). */
export class PgSqlPort implements SqlPort {
  readonly engine = 'postgres';
  readonly dialect: SqlDialect = {
    byCodePoint: ' COLLATE "C"',
    lockShared: ' FOR SHARE',
    clock: (plusMs = 0) =>
      plusMs === 0 ? { sql: 'now()', params: [] } : { sql: "(now() + ? * interval '1 millisecond')", params: [plusMs] },
  };

  constructor(private readonly pool: pg.Pool) {}

  all(what: string, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return coded(what, async () => (await this.pool.query(numberedPlaceholders(sql), [...params])).rows as Row[]);
  }

  run(what: string, sql: string, params: readonly unknown[] = []): Promise<number> {
    return coded(what, async () => (await this.pool.query(numberedPlaceholders(sql), [...params])).rowCount ?? 0);
  }

  runRelaxed(what: string, sql: string, params: readonly unknown[] = []): Promise<number> {
    return changedRelaxed(this.pool, what, numberedPlaceholders(sql), [...params]);
  }

  batch(what: string, statements: readonly Statement[]): Promise<StatementResult[]> {
    return inTransaction(this.pool, what, async (client) => {
      const results: StatementResult[] = [];
      for (const { sql, params = [], orFail } of statements) {
        const r = await client.query(numberedPlaceholders(sql), [...params]);
        if (orFail && r.rows.length === 0) throw orFail;
        results.push({ rows: r.rows as Row[], changes: r.command === 'SELECT' ? 0 : (r.rowCount ?? 0) });
      }
      return results;
    });
  }
}
