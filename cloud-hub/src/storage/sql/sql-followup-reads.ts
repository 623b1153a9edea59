import type { ResultMessage } from '@vigil/shared';
import { VigilError } from '@vigil/shared';
import type { AlertFilter, AlertRecord, PatientFilter, PatientSummary } from '../../followup/followup-store.js';
import type { FollowupObservation } from '../../followup/followup-types.js';
import { decodeCursor, type Page, toPage } from '../../state/pagination.js';
import { observationOf, toAlert, toPatient } from '../followup-rows.js';
import { alertConditions, clinicScope, patientScope, whereOf } from '../query-conditions.js';
import { marks, type SqlPort } from './sql-port.js';

/** An alert's patient's open-alert count, recounted (after an alert opened, resolved or was acknowledged). */
export const RECOUNT_OPEN_ALERTS = `UPDATE patients SET open_alerts =
  (SELECT COUNT(*) FROM alerts a WHERE a.patient_key = patients.patient_key AND a.status != 'resolved')
  WHERE patient_key = (SELECT patient_key FROM alerts WHERE alert_key = ?)`;

/**
 * Follow-up reads and alert transitions, the same on every engine (through the SQL port). Saving
 * timelines stays in each engine's store: it locks patients and decides from what it reads.
 */
export abstract class SqlFollowupReads {
  constructor(protected readonly port: SqlPort) {}

  async observationsFor(patientKey: string): Promise<FollowupObservation[]> {
    return (await this.observationsOf([patientKey])).get(patientKey) ?? [];
  }

  /** Several patients' observations in one read (a recomputation batch), each patient's in study-date order. */
  async observationsOf(patientKeys: readonly string[]): Promise<Map<string, FollowupObservation[]>> {
    const found = new Map<string, FollowupObservation[]>();
    if (patientKeys.length === 0) return found;
    const sql = `SELECT patient_key, body_json FROM results WHERE patient_key IN (${marks(patientKeys.length)}) AND shadow = FALSE
      ORDER BY study_date`;
    for (const row of await this.port.all('observationsFor', sql, patientKeys)) {
      const key = row.patient_key as string;
      const observation = observationOf(JSON.parse(row.body_json as string) as ResultMessage);
      const list = found.get(key);
      if (list) list.push(observation);
      else found.set(key, [observation]);
    }
    return found;
  }

  async getPatient(patientKey: string): Promise<PatientSummary | undefined> {
    return (await this.patientsOf([patientKey])).get(patientKey);
  }

  /** Several patients' stored summaries in one read; a patient without one is absent. */
  async patientsOf(patientKeys: readonly string[]): Promise<Map<string, PatientSummary>> {
    if (patientKeys.length === 0) return new Map();
    const sql = `SELECT * FROM patients WHERE patient_key IN (${marks(patientKeys.length)})`;
    return new Map(
      (await this.port.all('getPatient', sql, patientKeys)).map((row) => [row.patient_key as string, toPatient(row)]),
    );
  }

  async listPatients(filter: PatientFilter): Promise<Page<PatientSummary>> {
    const after = decodeCursor(filter.cursor, 2);
    const where = whereOf([
      // Every patient with a study at that clinic, not only those who started there.
      ...(filter.clinicId
        ? [{ sql: 'patient_key IN (SELECT patient_key FROM patient_clinics WHERE clinic_id = ?)', values: [filter.clinicId] }]
        : []),
      ...(filter.clinicScope ? [patientScope(filter.clinicScope)] : []),
      ...(filter.dueBefore ? [{ sql: 'due_date < ?', values: [filter.dueBefore] }] : []),
      ...(after ? [{ sql: '(last_study_date, patient_key) < (?, ?)', values: [after[0], after[1]] }] : []),
    ]);
    const sql = `SELECT * FROM patients ${where.sql} ORDER BY last_study_date DESC, patient_key DESC LIMIT ?`;
    const found = await this.port.all('listPatients', sql, [...where.values, filter.limit + 1]);
    return toPage(found, filter.limit, toPatient, (r) => [r.last_study_date as string, r.patient_key as string]);
  }

  async patientsNewlyOverdue(date: string, limit: number): Promise<string[]> {
    const sql = `SELECT p.patient_key FROM patients p WHERE p.due_date < ?
      AND NOT EXISTS (SELECT 1 FROM alerts a WHERE a.alert_key = 'overdue:' || p.patient_key || ':' || p.last_study_key)
      ORDER BY p.due_date LIMIT ?`;
    return (await this.port.all('patientsNewlyOverdue', sql, [date, limit])).map((r) => r.patient_key as string);
  }

  async patientsBehind(from: string, to: string, limit: number): Promise<string[]> {
    const sql = `SELECT DISTINCT r.patient_key FROM results r LEFT JOIN patients p ON p.patient_key = r.patient_key
      WHERE r.received_at >= ? AND r.received_at < ? AND r.shadow = FALSE
        AND (p.patient_key IS NULL OR p.updated_at < r.received_at)
      LIMIT ?`;
    return (await this.port.all('patientsBehind', sql, [from, to, limit])).map((r) => r.patient_key as string);
  }

  async listAlerts(filter: AlertFilter): Promise<Page<AlertRecord>> {
    const after = decodeCursor(filter.cursor, 2);
    const where = whereOf([
      ...alertConditions(filter).map(([condition, value]) => ({ sql: `${condition} ?`, values: [value] })),
      // An alert is seen where its evidence came from (the clinic whose result raised it).
      ...(filter.clinicScope ? [clinicScope(filter.clinicScope)] : []),
      ...(after ? [{ sql: '(created_at, alert_key) < (?, ?)', values: [after[0], after[1]] }] : []),
    ]);
    const sql = `SELECT * FROM alerts ${where.sql} ORDER BY created_at DESC, alert_key DESC LIMIT ?`;
    const found = await this.port.all('listAlerts', sql, [...where.values, filter.limit + 1]);
    return toPage(found, filter.limit, toAlert, (r) => [r.created_at as string, r.alert_key as string]);
  }

  async getAlert(alertKey: string): Promise<AlertRecord | undefined> {
    const [row] = await this.port.all('getAlert', 'SELECT * FROM alerts WHERE alert_key = ?', [alertKey]);
    return row ? toAlert(row) : undefined;
  }

  /** Acknowledges an open alert or resolves an unresolved one (a conditional update: one wins of two at once). */
  async transitionAlert(alertKey: string, to: 'acknowledged' | 'resolved', by: string, note?: string): Promise<AlertRecord> {
    const now = new Date().toISOString();
    const transition =
      to === 'acknowledged'
        ? `UPDATE alerts SET status = 'acknowledged', acknowledged_by = ?, acknowledged_at = ?, updated_at = ?,
            note = coalesce(?, note) WHERE alert_key = ? AND status = 'open' RETURNING *`
        : `UPDATE alerts SET status = 'resolved', resolved_by = ?, resolved_at = ?, updated_at = ?,
            note = coalesce(?, note) WHERE alert_key = ? AND status != 'resolved' RETURNING *`;
    const [changed] = await this.port.batch('transitionAlert', [
      { sql: transition, params: [by, now, now, note ?? null, alertKey] },
      { sql: RECOUNT_OPEN_ALERTS, params: [alertKey] },
    ]);
    const row = changed?.rows[0];
    if (row) return toAlert(row);
    const alert = await this.getAlert(alertKey);
    if (!alert) throw new VigilError('VIGIL_API_NOT_FOUND', `alert ${alertKey} does not exist`);
    throw new VigilError('VIGIL_ALERT_TRANSITION', `alert ${alertKey} is ${alert.status}; it cannot become ${to}`);
  }
}
