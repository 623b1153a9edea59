import { VigilError } from '@vigil/shared';
import type pg from 'pg';
import type { NewOpsAlert, OpsAlert, OpsAlertFilter, OpsAlertStore } from '../../ops/ops-alert-store.js';
import { OPS_ALERT_COLUMNS, opsAlertConditions, opsAlertValues, toOpsAlert } from '../ops-alert-rows.js';
import { inTransaction, Params, pgFragment, rows } from './pg-client.js';

export class PgOpsAlertStore implements OpsAlertStore {
  constructor(private readonly pool: pg.Pool) {}

  raise(alerts: readonly NewOpsAlert[]): Promise<OpsAlert[]> {
    if (alerts.length === 0) return Promise.resolve([]);
    return inTransaction(this.pool, 'ops alert raise', async (c) => {
      const now = new Date().toISOString();
      const raised: OpsAlert[] = [];
      const placeholders = OPS_ALERT_COLUMNS.map((_, i) => `$${i + 1}`).join(', ');
      for (const a of alerts) {
        const inserted = await c.query(
          `INSERT INTO ops_alerts (${OPS_ALERT_COLUMNS.join(', ')}) VALUES (${placeholders}) ON CONFLICT (alert_key) DO NOTHING`,
          opsAlertValues(a, now),
        );
        if (inserted.rowCount === 1) raised.push({ ...a, createdAt: now, acknowledgedBy: null, acknowledgedAt: null });
      }
      return raised;
    });
  }

  async list(filter: OpsAlertFilter): Promise<OpsAlert[]> {
    const p = new Params();
    const conditions = opsAlertConditions(filter).map((f) => pgFragment(p, f));
    const sql = `SELECT * FROM ops_alerts ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''}
      ORDER BY created_at DESC, alert_key LIMIT ${p.add(filter.limit)}`;
    return (await rows(this.pool, 'ops alert list', sql, p.values)).map(toOpsAlert);
  }

  async get(alertKey: string): Promise<OpsAlert | undefined> {
    const [row] = await rows(this.pool, 'ops alert get', 'SELECT * FROM ops_alerts WHERE alert_key = $1', [alertKey]);
    return row ? toOpsAlert(row) : undefined;
  }

  acknowledge(alertKey: string, by: string): Promise<OpsAlert> {
    return inTransaction(this.pool, 'ops alert acknowledge', async (c) => {
      await c.query(
        'UPDATE ops_alerts SET acknowledged_by = $2, acknowledged_at = $3 WHERE alert_key = $1 AND acknowledged_at IS NULL',
        [alertKey, by, new Date().toISOString()],
      );
      const row = (await c.query('SELECT * FROM ops_alerts WHERE alert_key = $1', [alertKey])).rows[0];
      if (!row) throw new VigilError('VIGIL_API_NOT_FOUND', `ops alert ${alertKey} does not exist`);
      return toOpsAlert(row);
    });
  }
}
