import type Database from 'better-sqlite3';
import type { LeaseGrant, LeaseStore } from '../../cluster/lease-store.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = { name: string; holder: string; epoch: number; expires_at: string };

const toGrant = (r: Row): LeaseGrant => ({ name: r.name, holder: r.holder, epoch: r.epoch, expiresAt: r.expires_at });

/**
 * Leases on SQLite. A SQLite state file serves one hub process, so there is never a second
 * contender; the store keeps the same rules as PostgreSQL's (the process clock is the database's).
 */
export class SqliteLeaseStore implements LeaseStore {
  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {}

  tryAcquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null> {
    return durableWrite(
      'lease acquire',
      () => {
        const now = new Date();
        const row = this.db
          .prepare(`INSERT INTO leases (name, holder, epoch, expires_at) VALUES (@name, @holder, 1, @expires)
            ON CONFLICT (name) DO UPDATE SET
              epoch = CASE WHEN leases.holder = excluded.holder AND leases.expires_at > @now THEN leases.epoch ELSE leases.epoch + 1 END,
              holder = excluded.holder, expires_at = excluded.expires_at
            WHERE leases.holder = excluded.holder OR leases.expires_at <= @now
            RETURNING *`)
          .get({ name, holder, now: now.toISOString(), expires: new Date(now.getTime() + ttlMs).toISOString() }) as
          | Row
          | undefined;
        return row ? toGrant(row) : null;
      },
      this.durable,
    );
  }

  release(name: string, holder: string): Promise<void> {
    return durableWrite(
      'lease release',
      () => {
        this.db
          .prepare('UPDATE leases SET expires_at = ? WHERE name = ? AND holder = ?')
          .run(new Date().toISOString(), name, holder);
      },
      this.durable,
    );
  }

  current(name: string): Promise<LeaseGrant | undefined> {
    return wrap('lease read', () => {
      const row = this.db.prepare('SELECT * FROM leases WHERE name = ? AND expires_at > ?').get(name, new Date().toISOString()) as
        | Row
        | undefined;
      return row ? toGrant(row) : undefined;
    });
  }
}
