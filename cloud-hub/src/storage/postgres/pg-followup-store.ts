import { type ResultMessage, VigilError } from '@vigil/shared';
import type pg from 'pg';
import type {
  AlertFilter,
  AlertRecord,
  FollowupStore,
  PatientFilter,
  PatientSummary,
  TimelineSave,
  TimelineSaveOutcome,
} from '../../followup/followup-store.js';
import type { FollowupObservation } from '../../followup/followup-types.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import { observationOf, toAlert, toPatient } from '../followup-rows.js';
import { alertConditions, clinicScope, patientScope } from '../query-conditions.js';
import { inTransaction, Params, pgFragment, type Row, rows } from './pg-client.js';

const COUNT_OPEN = `UPDATE patients SET open_alerts = (SELECT COUNT(*) FROM alerts WHERE patient_key = $1 AND status != 'resolved')
  WHERE patient_key = $1`;

/** Follow-up timelines and alerts on PostgreSQL (the same rules as the SQLite store). */
export class PgFollowupStore implements FollowupStore {
  constructor(private readonly pool: pg.Pool) {}

  async observationsFor(patientKey: string): Promise<FollowupObservation[]> {
    const sql = 'SELECT body_json FROM results WHERE patient_key = $1 AND shadow = FALSE ORDER BY study_date';
    return (await rows(this.pool, 'observationsFor', sql, [patientKey])).map((row) =>
      observationOf(JSON.parse(row.body_json as string) as ResultMessage),
    );
  }

  saveTimelines(entries: TimelineSave[]): Promise<TimelineSaveOutcome[]> {
    if (entries.length === 0) return Promise.resolve([]);
    // Patients are locked in one global order (their keys), so two replicas saving overlapping
    // batches wait for each other instead of deadlocking; outcomes come back in the caller's order.
    const order = entries
      .map((_e, i) => i)
      .sort((x, y) => {
        const a = entries[x]?.summary.patientKey ?? '';
        const b = entries[y]?.summary.patientKey ?? '';
        return a < b ? -1 : a > b ? 1 : 0;
      });
    return inTransaction(this.pool, 'saveTimelines', async (c) => {
      const outcomes: TimelineSaveOutcome[] = new Array(entries.length);
      for (const i of order) outcomes[i] = await this.saveOne(c, entries[i] as TimelineSave);
      return outcomes;
    });
  }

  private async saveOne(c: pg.PoolClient, { summary, conditions }: TimelineSave): Promise<TimelineSaveOutcome> {
    const now = new Date().toISOString();
    const key = summary.patientKey;
    // One writer per patient at a time, whichever connection or hub replica saves it: the lock
    // lasts until this transaction ends.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('vigil.patient:' || $1))", [key]);
    await c.query(
      `INSERT INTO patients (patient_key, clinic_id, clinic_ids, first_study_date, last_study_date, last_study_key, studies,
          category, due_date, updated_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
        ON CONFLICT (patient_key) DO UPDATE SET clinic_id = EXCLUDED.clinic_id, clinic_ids = EXCLUDED.clinic_ids,
          first_study_date = EXCLUDED.first_study_date, last_study_date = EXCLUDED.last_study_date,
          last_study_key = EXCLUDED.last_study_key, studies = EXCLUDED.studies, category = EXCLUDED.category,
          due_date = EXCLUDED.due_date, updated_at = EXCLUDED.updated_at`,
      [
        key,
        summary.clinicId,
        JSON.stringify(summary.clinicIds),
        summary.firstStudyDate,
        summary.lastStudyDate,
        summary.lastStudyKey,
        summary.studies,
        summary.category,
        summary.dueDate,
        now,
      ],
    );
    await c.query('INSERT INTO patient_clinics (patient_key, clinic_id) SELECT $1, unnest($2::text[]) ON CONFLICT DO NOTHING', [
      key,
      summary.clinicIds,
    ]);
    // The patient's active alerts, locked against a clinician's acknowledgement racing this save.
    const active = (await c.query("SELECT * FROM alerts WHERE patient_key = $1 AND status != 'resolved' FOR UPDATE", [key]))
      .rows as Row[];
    const opened: AlertRecord[] = [];
    const updated: AlertRecord[] = [];
    for (const cond of conditions) {
      const figures = JSON.stringify(cond.figures);
      const inserted = await c.query(
        `INSERT INTO alerts (alert_key, kind, severity, patient_key, clinic_id, device_id, laterality, view, study_key,
            study_date, track_id, reason, figures_json, status, created_at, updated_at)
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 'open', $14, $14)
          ON CONFLICT (alert_key) DO NOTHING RETURNING *`,
        [
          cond.alertKey,
          cond.kind,
          cond.severity,
          cond.patientKey,
          cond.clinicId,
          cond.deviceId,
          cond.laterality,
          cond.view,
          cond.studyKey,
          cond.studyDate,
          cond.trackId,
          cond.reason,
          figures,
          now,
        ],
      );
      if (inserted.rows[0]) {
        opened.push(toAlert(inserted.rows[0] as Row));
        continue;
      }
      const refreshed = await c.query(
        `UPDATE alerts SET severity = $1, reason = $2, figures_json = $3, updated_at = $4
          WHERE alert_key = $5 AND status = 'open' AND (severity != $1 OR reason != $2 OR figures_json != $3) RETURNING *`,
        [cond.severity, cond.reason, figures, now, cond.alertKey],
      );
      if (refreshed.rows[0]) updated.push(toAlert(refreshed.rows[0] as Row));
    }
    const current = new Set(conditions.map((cond) => cond.alertKey));
    const autoResolved: AlertRecord[] = [];
    for (const row of active) {
      if (current.has(row.alert_key as string)) continue;
      const resolved = await c.query(
        `UPDATE alerts SET status = 'resolved', resolved_by = 'system', resolved_at = $1, updated_at = $1,
          note = 'condition no longer holds' WHERE alert_key = $2 RETURNING *`,
        [now, row.alert_key],
      );
      autoResolved.push(toAlert(resolved.rows[0] as Row));
    }
    await c.query(COUNT_OPEN, [key]);
    return { opened, autoResolved, updated };
  }

  async getPatient(patientKey: string): Promise<PatientSummary | undefined> {
    const [row] = await rows(this.pool, 'getPatient', 'SELECT * FROM patients WHERE patient_key = $1', [patientKey]);
    return row ? toPatient(row) : undefined;
  }

  async listPatients(filter: PatientFilter): Promise<Page<PatientSummary>> {
    const p = new Params();
    const where: string[] = [];
    // Every patient with a study at that clinic, not only those who started there.
    if (filter.clinicId)
      where.push(`patient_key IN (SELECT patient_key FROM patient_clinics WHERE clinic_id = ${p.add(filter.clinicId)})`);
    if (filter.clinicScope) where.push(pgFragment(p, patientScope(filter.clinicScope)));
    if (filter.dueBefore) where.push(`due_date < ${p.add(filter.dueBefore)}`);
    const after = decodeCursor(filter.cursor, 2);
    if (after) where.push(`(last_study_date, patient_key) < (${p.add(after[0])}, ${p.add(after[1])})`);
    const sql = `SELECT * FROM patients ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY last_study_date DESC, patient_key DESC LIMIT ${p.add(filter.limit + 1)}`;
    const found = await rows(this.pool, 'listPatients', sql, p.values);
    return toPage(found, filter.limit, toPatient, (r) => [r.last_study_date as string, r.patient_key as string]);
  }

  async patientsNewlyOverdue(date: string, limit: number): Promise<string[]> {
    const sql = `SELECT p.patient_key FROM patients p WHERE p.due_date < $1
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_key = 'overdue:' || p.patient_key || ':' || p.last_study_key)
      ORDER BY p.due_date LIMIT $2`;
    return (await rows(this.pool, 'patientsNewlyOverdue', sql, [date, limit])).map((r) => r.patient_key as string);
  }

  async listAlerts(filter: AlertFilter): Promise<Page<AlertRecord>> {
    const p = new Params();
    const where: string[] = [];
    for (const [condition, value] of alertConditions(filter)) where.push(`${condition} ${p.add(value)}`);
    // An alert is seen where its evidence came from (the clinic whose result raised it).
    if (filter.clinicScope) where.push(pgFragment(p, clinicScope(filter.clinicScope)));
    const after = decodeCursor(filter.cursor, 2);
    if (after) where.push(`(created_at, alert_key) < (${p.add(after[0])}, ${p.add(after[1])})`);
    const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
      ORDER BY created_at DESC, alert_key DESC LIMIT ${p.add(filter.limit + 1)}`;
    const found = await rows(this.pool, 'listAlerts', sql, p.values);
    return toPage(found, filter.limit, toAlert, (r) => [r.created_at as string, r.alert_key as string]);
  }

  async getAlert(alertKey: string): Promise<AlertRecord | undefined> {
    const [row] = await rows(this.pool, 'getAlert', 'SELECT * FROM alerts WHERE alert_key = $1', [alertKey]);
    return row ? toAlert(row) : undefined;
  }

  transitionAlert(alertKey: string, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<AlertRecord> {
    return inTransaction(this.pool, 'transitionAlert', async (c) => {
      const row = (await c.query('SELECT * FROM alerts WHERE alert_key = $1 FOR UPDATE', [alertKey])).rows[0] as Row | undefined;
      if (!row) throw new VigilError('VIGIL_API_NOT_FOUND', `alert ${alertKey} does not exist`);
      const now = new Date().toISOString();
      const sql =
        to === 'acknowledged'
          ? `UPDATE alerts SET status = 'acknowledged', acknowledged_by = $1, acknowledged_at = $2, updated_at = $2,
              note = coalesce($3, note) WHERE alert_key = $4 AND status = 'open' RETURNING *`
          : `UPDATE alerts SET status = 'resolved', resolved_by = $1, resolved_at = $2, updated_at = $2,
              note = coalesce($3, note) WHERE alert_key = $4 AND status != 'resolved' RETURNING *`;
      const changed = (await c.query(sql, [by, now, note ?? null, alertKey])).rows[0] as Row | undefined;
      if (!changed) {
        throw new VigilError('VIGIL_ALERT_TRANSITION', `alert ${alertKey} is ${row.status as string}; it cannot become ${to}`);
      }
      await c.query(COUNT_OPEN, [row.patient_key]);
      return toAlert(changed);
    });
  }
}
