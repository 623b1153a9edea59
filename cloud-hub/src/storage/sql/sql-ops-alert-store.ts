import { VigilError } from '@vigil/shared';
import type { NewOpsAlert, OpsAlert, OpsAlertFilter, OpsAlertStore } from '../../ops/ops-alert-store.js';
import { OPS_ALERT_COLUMNS, opsAlertConditions, opsAlertValues, toOpsAlert } from '../ops-alert-rows.js';
import { whereOf } from '../query-conditions.js';
import { marks, type SqlPort } from './sql-port.js';

/** Ops alerts on any engine, through the SQL port. */
export class SqlOpsAlertStore implements OpsAlertStore {
  constructor(private readonly db: SqlPort) {}

  async raise(alerts: readonly NewOpsAlert[]): Promise<OpsAlert[]> {
    if (alerts.length === 0) return [];
    const now = new Date().toISOString();
    const insert = `INSERT INTO ops_alerts (${OPS_ALERT_COLUMNS.join(', ')}) VALUES (${marks(OPS_ALERT_COLUMNS.length)})
      ON CONFLICT (alert_key) DO NOTHING`;
    const done = await this.db.batch(
      'ops alert raise',
      alerts.map((a) => ({ sql: insert, params: opsAlertValues(a, now) })),
    );
    // Raised once per key: an alert already open is not raised again.
    return alerts
      .filter((_, i) => done[i]?.changes === 1)
      .map((a) => ({ ...a, createdAt: now, acknowledgedBy: null, acknowledgedAt: null }));
  }

  async list(filter: OpsAlertFilter): Promise<OpsAlert[]> {
    const where = whereOf(opsAlertConditions(filter));
    const sql = `SELECT * FROM ops_alerts ${where.sql} ORDER BY created_at DESC, alert_key LIMIT ?`;
    return (await this.db.all('ops alert list', sql, [...where.values, filter.limit])).map(toOpsAlert);
  }

  async get(alertKey: string): Promise<OpsAlert | undefined> {
    const [row] = await this.db.all('ops alert get', 'SELECT * FROM ops_alerts WHERE alert_key = ?', [alertKey]);
    return row ? toOpsAlert(row) : undefined;
  }

  async acknowledge(alertKey: string, by: string): Promise<OpsAlert> {
    const [, read] = await this.db.batch('ops alert acknowledge', [
      {
        sql: 'UPDATE ops_alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_key = ? AND acknowledged_at IS NULL',
        params: [by, new Date().toISOString(), alertKey],
      },
      { sql: 'SELECT * FROM ops_alerts WHERE alert_key = ?', params: [alertKey] },
    ]);
    const row = read?.rows[0];
    if (!row) throw new VigilError('VIGIL_API_NOT_FOUND', `ops alert ${alertKey} does not exist`);
    return toOpsAlert(row);
  }
}
