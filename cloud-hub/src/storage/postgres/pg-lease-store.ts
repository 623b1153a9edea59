import type pg from 'pg';
import type { LeaseGrant, LeaseStore } from '../../cluster/lease-store.js';
import { changed, type Row, rows } from './pg-client.js';

function toGrant(row: Row): LeaseGrant {
  return {
    name: row.name as string,
    holder: row.holder as string,
    epoch: Number(row.epoch),
    expiresAt: new Date(row.expires_at as string | Date).toISOString(),
  };
}

/** Leases in one row each; the server's clock decides expiry, one statement decides ownership. */
export class PgLeaseStore implements LeaseStore {
  constructor(private readonly pool: pg.Pool) {}

  async tryAcquire(name: string, holder: string, ttlMs: number): Promise<LeaseGrant | null> {
    const [row] = await rows(
      this.pool,
      'lease acquire',
      `INSERT INTO leases (name, holder, epoch, expires_at) VALUES ($1, $2, 1, now() + $3 * interval '1 millisecond')
        ON CONFLICT (name) DO UPDATE SET
          epoch = CASE WHEN leases.holder = EXCLUDED.holder AND leases.expires_at > now() THEN leases.epoch ELSE leases.epoch + 1 END,
          holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
        WHERE leases.holder = EXCLUDED.holder OR leases.expires_at <= now()
        RETURNING *`,
      [name, holder, ttlMs],
    );
    return row ? toGrant(row) : null;
  }

  async release(name: string, holder: string): Promise<void> {
    await changed(this.pool, 'lease release', 'UPDATE leases SET expires_at = now() WHERE name = $1 AND holder = $2', [
      name,
      holder,
    ]);
  }

  async current(name: string): Promise<LeaseGrant | undefined> {
    const [row] = await rows(this.pool, 'lease read', 'SELECT * FROM leases WHERE name = $1 AND expires_at > now()', [name]);
    return row ? toGrant(row) : undefined;
  }
}
