import { VigilError } from '@vigil/shared';
import type Database from 'better-sqlite3';
import type { NewOpsAlert, OpsAlert, OpsAlertFilter, OpsAlertStore } from '../../ops/ops-alert-store.js';
import { OPS_ALERT_COLUMNS, opsAlertConditions, opsAlertValues, toOpsAlert } from '../ops-alert-rows.js';
import { durableWrite, wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

export class SqliteOpsAlertStore implements OpsAlertStore {
  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {}

  raise(alerts: readonly NewOpsAlert[]): Promise<OpsAlert[]> {
    if (alerts.length === 0) return Promise.resolve([]);
    return durableWrite(
      'ops alert raise',
      () =>
        this.db.transaction(() => {
          const insert = this.db.prepare(
            `INSERT INTO ops_alerts (${OPS_ALERT_COLUMNS.join(', ')}) VALUES (${OPS_ALERT_COLUMNS.map(() => '?').join(', ')})
             ON CONFLICT (alert_key) DO NOTHING`,
          );
          const now = new Date().toISOString();
          const raised: OpsAlert[] = [];
          for (const a of alerts) {
            if (insert.run(...opsAlertValues(a, now)).changes === 1) {
              raised.push({ ...a, createdAt: now, acknowledgedBy: null, acknowledgedAt: null });
            }
          }
          return raised;
        })(),
      this.durable,
    );
  }

  list(filter: OpsAlertFilter): Promise<OpsAlert[]> {
    return wrap('ops alert list', () => {
      const conditions = opsAlertConditions(filter);
      const sql = `SELECT * FROM ops_alerts ${conditions.length ? `WHERE ${conditions.map((c) => c.sql).join(' AND ')}` : ''}
        ORDER BY created_at DESC, alert_key LIMIT ?`;
      return (this.db.prepare(sql).all(...conditions.flatMap((c) => c.values), filter.limit) as Row[]).map(toOpsAlert);
    });
  }

  get(alertKey: string): Promise<OpsAlert | undefined> {
    return wrap('ops alert get', () => {
      const row = this.db.prepare('SELECT * FROM ops_alerts WHERE alert_key = ?').get(alertKey) as Row | undefined;
      return row ? toOpsAlert(row) : undefined;
    });
  }

  acknowledge(alertKey: string, by: string): Promise<OpsAlert> {
    return durableWrite(
      'ops alert acknowledge',
      () =>
        this.db.transaction(() => {
          this.db
            .prepare(
              'UPDATE ops_alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE alert_key = ? AND acknowledged_at IS NULL',
            )
            .run(by, new Date().toISOString(), alertKey);
          const row = this.db.prepare('SELECT * FROM ops_alerts WHERE alert_key = ?').get(alertKey) as Row | undefined;
          if (!row) throw new VigilError('VIGIL_API_NOT_FOUND', `ops alert ${alertKey} does not exist`);
          return toOpsAlert(row);
        })(),
      this.durable,
    );
  }
}
