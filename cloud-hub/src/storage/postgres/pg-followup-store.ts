import type pg from 'pg';
import type { AlertRecord, FollowupStore, TimelineSave, TimelineSaveOutcome } from '../../followup/followup-store.js';
import { toAlert } from '../followup-rows.js';
import { SqlFollowupReads } from '../sql/sql-followup-reads.js';
import type { SqlPort } from '../sql/sql-port.js';
import { inTransaction, type Row } from './pg-client.js';

const COUNT_OPEN = `UPDATE patients SET open_alerts = (SELECT COUNT(*) FROM alerts WHERE patient_key = $1 AND status != 'resolved')
  WHERE patient_key = $1`;

/** Follow-up timelines and alerts on PostgreSQL (the same rules as the SQLite store). */
export class PgFollowupStore extends SqlFollowupReads implements FollowupStore {
  constructor(
    private readonly pool: pg.Pool,
    port: SqlPort,
  ) {
    super(port);
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
}
