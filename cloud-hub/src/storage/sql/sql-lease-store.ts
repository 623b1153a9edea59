import type { LeaseGrant, LeaseStore } from '../../cluster/lease-store.js';
import type { Row, SqlPort } from './sql-port.js';

function toGrant(row: Row): LeaseGrant {
  return {
    name: row.name as string,
    holder: row.holder as string,
    epoch: Number(row.epoch),
    expiresAt: new Date(row.expires_at as string | Date).toISOString(),
  };
}

/**
 * Leases in one row each: one statement decides ownership, the dialect's clock decides expiry (the
 * server's on PostgreSQL, where replicas contend; a SQLite file serves one hub process, which keeps
 * the same rules with its own clock).
 */
export class SqlLeaseStore implements LeaseStore {
  constructor(private readonly db: SqlPort) {}

  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null> {
    const now = this.db.dialect.clock();
    const expires = this.db.dialect.clock(ttlMs);
    const [done] = await this.db.batch('lease acquire', [
      {
        sql: `INSERT INTO leases (name, holder, epoch, expires_at) VALUES (?, ?, 1, ${expires.sql})
          ON CONFLICT (name) DO UPDATE SET
            epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > ${now.sql} THEN leases.epoch ELSE leases.epoch + 1 END,
            holder = excluded.holder, expires_at = excluded.expires_at
          WHERE leases.holder = excluded.holder OR leases.expires_at <= ${now.sql}
          RETURNING *`,
        params: [name, holder, ...expires.params, ...now.params, ...now.params],
      },
    ]);
    const row = done?.rows[0];
    return row ? toGrant(row) : null;
  }

  async release(name: string, holder: string): Promise<void> {
    const now = this.db.dialect.clock();
    await this.db.run('lease release', `UPDATE leases SET expires_at = ${now.sql} WHERE name = ? AND holder = ?`, [
      ...now.params,
      name,
      holder,
    ]);
  }

  async current(name: string): Promise<LeaseGrant | undefined> {
    const now = this.db.dialect.clock();
    const [row] = await this.db.all('lease read', `SELECT * FROM leases WHERE name = ? AND expires_at > ${now.sql}`, [
      name,
      ...now.params,
    ]);
    return row ? toGrant(row) : undefined;
  }
}
