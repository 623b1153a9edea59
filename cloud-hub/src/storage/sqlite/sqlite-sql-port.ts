import type Database from 'better-sqlite3';
import type { Row, SqlDialect, SqlPort, Statement, StatementResult } from '../sql/sql-port.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

/** The SQL port on the hub's SQLite connection: reads as they are, writes made durable before they resolve. */
export class SqliteSqlPort implements SqlPort {
  readonly engine = 'sqlite';
  readonly dialect: SqlDialect = {
    byCodePoint: '',
    // The write transaction (BEGIN IMMEDIATE) already keeps any takeover out until it commits.
    lockShared: '',
    clock: (plusMs = 0) => ({ sql: '?', params: [new Date(Date.now() + plusMs).toISOString()] }),
  };

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {}

  all(what: string, sql: string, params: readonly unknown[] = []): Promise<Row[]> {
    return wrap(what, () => this.db.prepare(sql).all(...params) as Row[]);
  }

  run(what: string, sql: string, params: readonly unknown[] = []): Promise<number> {
    return durableWrite(what, () => this.db.prepare(sql).run(...params).changes, this.durable);
  }

  runRelaxed(what: string, sql: string, params: readonly unknown[] = []): Promise<number> {
    return wrap(what, () => this.db.prepare(sql).run(...params).changes);
  }

  batch(what: string, statements: readonly Statement[]): Promise<StatementResult[]> {
    return durableWrite(
      what,
      () =>
        this.db
          .transaction(() =>
            statements.map(({ sql, params = [], orFail }) => {
              const statement = this.db.prepare(sql);
              if (statement.reader) {
                const rows = statement.all(...params) as Row[];
                if (orFail && rows.length === 0) throw orFail;
                return { rows, changes: 0 };
              }
              return { rows: [], changes: statement.run(...params).changes };
            }),
          )
          .immediate(),
      this.durable,
    );
  }
}
