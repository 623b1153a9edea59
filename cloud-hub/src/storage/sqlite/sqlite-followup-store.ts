import type Database from 'better-sqlite3';
import type { AlertRecord, FollowupStore, TimelineSave, TimelineSaveOutcome } from '../../followup/followup-store.js';
import { toAlert } from '../followup-rows.js';
import type { Fragment } from '../query-conditions.js';
import { SqlFollowupReads } from '../sql/sql-followup-reads.js';
import type { SqlPort } from '../sql/sql-port.js';
import { wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

function _push(where: string[], args: (string | number)[], fragment: Fragment): void {
  where.push(fragment.sql);
  args.push(...fragment.values);
}

/** Follow-up timelines on SQLite: saving is this engine's (one synchronous transaction); reads are shared. */
export class SqliteFollowupStore extends SqlFollowupReads implements FollowupStore {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
    port: SqlPort,
  ) {
    super(port);
    this.s = {
      upsertPatient: db.prepare(`INSERT INTO patients
        (patient_key, clinic_id, clinic_ids, first_study_date, last_study_date, last_study_key, studies, category, due_date, updated_at)
        VALUES (@patientKey, @clinicId, @clinicIds, @firstStudyDate, @lastStudyDate, @lastStudyKey, @studies, @category, @dueDate, @updatedAt)
        ON CONFLICT(patient_key) DO UPDATE SET clinic_id = excluded.clinic_id, clinic_ids = excluded.clinic_ids, first_study_date = excluded.first_study_date,
          last_study_date = excluded.last_study_date, last_study_key = excluded.last_study_key, studies = excluded.studies,
          category = excluded.category, due_date = excluded.due_date, updated_at = excluded.updated_at`),
      addPatientClinic: db.prepare('INSERT OR IGNORE INTO patient_clinics (patient_key, clinic_id) VALUES (?, ?)'),
      insertAlert: db.prepare(`INSERT OR IGNORE INTO alerts
        (alert_key, kind, severity, patient_key, clinic_id, device_id, laterality, view, study_key, study_date, track_id, reason,
         figures_json, status, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'open', ?, ?)`),
      activeAlerts: db.prepare("SELECT * FROM alerts WHERE patient_key = ? AND status != 'resolved'"),
      getAlert: db.prepare('SELECT * FROM alerts WHERE alert_key = ?'),
      refreshOpenAlert: db.prepare(`UPDATE alerts SET severity = @severity, reason = @reason, figures_json = @figures,
        updated_at = @now WHERE alert_key = @alertKey AND status = 'open'
        AND (severity != @severity OR reason != @reason OR figures_json != @figures)`),
      autoResolve: db.prepare(`UPDATE alerts SET status = 'resolved', resolved_by = 'system', resolved_at = ?, updated_at = ?,
        note = 'condition no longer holds' WHERE alert_key = ?`),
      countOpen: db.prepare(
        "UPDATE patients SET open_alerts = (SELECT COUNT(*) FROM alerts WHERE patient_key = ? AND status != 'resolved') WHERE patient_key = ?",
      ),
    };
  }

  async saveTimelines(entries: TimelineSave[]): Promise<TimelineSaveOutcome[]> {
    if (entries.length === 0) return [];
    const outcomes = await wrap('saveTimelines', () =>
      this.db.transaction((): TimelineSaveOutcome[] => entries.map((e) => this.saveOne(e)))(),
    );
    await this.durable('saveTimelines');
    return outcomes;
  }

  private saveOne({ summary, conditions }: TimelineSave): TimelineSaveOutcome {
    const now = new Date().toISOString();
    this.s.upsertPatient.run({ ...summary, clinicIds: JSON.stringify(summary.clinicIds), updatedAt: now });
    for (const clinicId of summary.clinicIds) this.s.addPatientClinic.run(summary.patientKey, clinicId);
    const opened: AlertRecord[] = [];
    const updated: AlertRecord[] = [];
    for (const c of conditions) {
      const figures = JSON.stringify(c.figures);
      const inserted = this.s.insertAlert.run(
        c.alertKey,
        c.kind,
        c.severity,
        c.patientKey,
        c.clinicId,
        c.deviceId,
        c.laterality,
        c.view,
        c.studyKey,
        c.studyDate,
        c.trackId,
        c.reason,
        figures,
        now,
        now,
      ).changes;
      if (inserted === 1) {
        opened.push(toAlert(this.s.getAlert.get(c.alertKey) as Row));
        continue;
      }
      const refreshed = this.s.refreshOpenAlert.run({
        severity: c.severity,
        reason: c.reason,
        figures,
        now,
        alertKey: c.alertKey,
      });
      if (refreshed.changes === 1) updated.push(toAlert(this.s.getAlert.get(c.alertKey) as Row));
    }
    const current = new Set(conditions.map((c) => c.alertKey));
    const autoResolved: AlertRecord[] = [];
    for (const row of this.s.activeAlerts.all(summary.patientKey) as Row[]) {
      if (current.has(row.alert_key as string)) continue;
      this.s.autoResolve.run(now, now, row.alert_key);
      autoResolved.push(toAlert(this.s.getAlert.get(row.alert_key) as Row));
    }
    this.s.countOpen.run(summary.patientKey, summary.patientKey);
    return { opened, autoResolved, updated };
  }
}
