import { type ResultMessage, VigilError } from '@vigil/shared';
import type Database from 'better-sqlite3';
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
import { alertConditions, clinicScope, type Fragment, patientScope } from '../query-conditions.js';
import { wrap } from './sqlite-wrap.js';

type Row = Record<string, unknown>;

function push(where: string[], args: (string | number)[], fragment: Fragment): void {
  where.push(fragment.sql);
  args.push(...fragment.values);
}

export class SqliteFollowupStore implements FollowupStore {
  private readonly s;

  constructor(
    private readonly db: Database.Database,
    private readonly durable: (what: string) => Promise<void>,
  ) {
    this.s = {
      observations: db.prepare(
        'SELECT message_id, created_at, body_json FROM results WHERE patient_key = ? AND shadow = 0 ORDER BY study_date',
      ),
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
      getPatient: db.prepare('SELECT * FROM patients WHERE patient_key = ?'),
      newlyOverdue: db.prepare(`SELECT p.patient_key FROM patients p WHERE p.due_date < ?
        AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_key = 'overdue:' || p.patient_key || ':' || p.last_study_key)
        ORDER BY p.due_date LIMIT ?`),
      acknowledge:
        db.prepare(`UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, updated_at = ?,
        note = coalesce(?, note) WHERE alert_key = ? AND status = 'open'`),
      resolve: db.prepare(`UPDATE alerts SET status = 'resolved', resolved_by = ?, resolved_at = ?, updated_at = ?,
        note = coalesce(?, note) WHERE alert_key = ? AND status != 'resolved'`),
    };
  }

  observationsFor(patientKey: string): Promise<FollowupObservation[]> {
    return wrap('observationsFor', () =>
      (this.s.observations.all(patientKey) as { message_id: string; created_at: string; body_json: string }[]).map((row) =>
        observationOf(JSON.parse(row.body_json) as ResultMessage),
      ),
    );
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

  getPatient(patientKey: string): Promise<PatientSummary | undefined> {
    return wrap('getPatient', () => {
      const row = this.s.getPatient.get(patientKey) as Row | undefined;
      return row ? toPatient(row) : undefined;
    });
  }

  listPatients(filter: PatientFilter): Promise<Page<PatientSummary>> {
    return wrap('listPatients', () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      if (filter.clinicId) {
        // Every patient with a study at that clinic, not only those who started there.
        where.push('patient_key IN (SELECT patient_key FROM patient_clinics WHERE clinic_id = ?)');
        args.push(filter.clinicId);
      }
      if (filter.clinicScope) push(where, args, patientScope(filter.clinicScope));
      if (filter.dueBefore) {
        where.push('due_date < ?');
        args.push(filter.dueBefore);
      }
      const after = decodeCursor(filter.cursor, 2);
      if (after) {
        where.push('(last_study_date, patient_key) < (?, ?)');
        args.push(after[0] as string, after[1] as string);
      }
      const sql = `SELECT * FROM patients ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY last_study_date DESC, patient_key DESC LIMIT ?`;
      const rows = this.db.prepare(sql).all(...args, filter.limit + 1) as Row[];
      return toPage(rows, filter.limit, toPatient, (r) => [r.last_study_date as string, r.patient_key as string]);
    });
  }

  patientsNewlyOverdue(date: string, limit: number): Promise<string[]> {
    return wrap('patientsNewlyOverdue', () =>
      (this.s.newlyOverdue.all(date, limit) as { patient_key: string }[]).map((r) => r.patient_key),
    );
  }

  listAlerts(filter: AlertFilter): Promise<Page<AlertRecord>> {
    return wrap('listAlerts', () => {
      const where: string[] = [];
      const args: (string | number)[] = [];
      for (const [condition, value] of alertConditions(filter)) {
        where.push(`${condition} ?`);
        args.push(value);
      }
      // An alert is seen where its evidence came from (the clinic whose result raised it).
      if (filter.clinicScope) push(where, args, clinicScope(filter.clinicScope));
      const after = decodeCursor(filter.cursor, 2);
      if (after) {
        where.push('(created_at, alert_key) < (?, ?)');
        args.push(after[0] as string, after[1] as string);
      }
      const sql = `SELECT * FROM alerts ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
        ORDER BY created_at DESC, alert_key DESC LIMIT ?`;
      const rows = this.db.prepare(sql).all(...args, filter.limit + 1) as Row[];
      return toPage(rows, filter.limit, toAlert, (r) => [r.created_at as string, r.alert_key as string]);
    });
  }

  getAlert(alertKey: string): Promise<AlertRecord | undefined> {
    return wrap('getAlert', () => {
      const row = this.s.getAlert.get(alertKey) as Row | undefined;
      return row ? toAlert(row) : undefined;
    });
  }

  async transitionAlert(alertKey: string, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<AlertRecord> {
    const updated = await wrap('transitionAlert', () =>
      this.db.transaction(() => {
        const row = this.s.getAlert.get(alertKey) as Row | undefined;
        if (!row) throw new VigilError('VIGIL_API_NOT_FOUND', `alert ${alertKey} does not exist`);
        const now = new Date().toISOString();
        const changed =
          to === 'acknowledged'
            ? this.s.acknowledge.run(by, now, now, note ?? null, alertKey).changes
            : this.s.resolve.run(by, now, now, note ?? null, alertKey).changes;
        if (changed !== 1) {
          throw new VigilError('VIGIL_ALERT_TRANSITION', `alert ${alertKey} is ${row.status as string}; it cannot become ${to}`);
        }
        this.s.countOpen.run(row.patient_key, row.patient_key);
        return toAlert(this.s.getAlert.get(alertKey) as Row);
      })(),
    );
    await this.durable('transitionAlert');
    return updated;
  }
}
