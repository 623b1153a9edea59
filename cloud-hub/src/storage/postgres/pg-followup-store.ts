import type pg from 'pg';
import type { AlertRecord, FollowupStore, TimelineSave, TimelineSaveOutcome } from '../../followup/followup-store.js';
import type { AttributedCondition } from '../../followup/followup-types.js';
import { toAlert } from '../followup-rows.js';
import { SqlFollowupReads } from '../sql/sql-followup-reads.js';
import { byCodeUnit, type SqlPort } from '../sql/sql-port.js';
import { inTransaction, type Row } from './pg-client.js';

/**
 * The entries' positions in groups that each name a patient once, every group in patient-key order.
 * Callers save distinct patients (one group); a patient named twice is saved twice, in turn.
 */
function distinctPatientGroups(entries: readonly TimelineSave[]): number[][] {
  const groups: { keys: Set<string>; positions: number[] }[] = [];
  for (const [i, entry] of entries.entries()) {
    const key = entry.summary.patientKey;
    let group = groups.find((g) => !g.keys.has(key));
    if (!group) {
      group = { keys: new Set(), positions: [] };
      groups.push(group);
    }
    group.keys.add(key);
    group.positions.push(i);
  }
  const keyOf = (i: number) => entries[i]?.summary.patientKey ?? '';
  return groups.map((g) => g.positions.sort((x, y) => byCodeUnit(keyOf(x), keyOf(y))));
}

/** Groups rows by the patient they belong to, in the order given by `rank` (an alert's position). */
function alertsByPatient(rows: Row[], rank: (alertKey: string) => number): Map<string, AlertRecord[]> {
  const grouped = new Map<string, AlertRecord[]>();
  const sorted = [...rows].sort((x, y) => rank(x.alert_key as string) - rank(y.alert_key as string));
  for (const row of sorted) {
    const alert = toAlert(row);
    const list = grouped.get(alert.patientKey);
    if (list) list.push(alert);
    else grouped.set(alert.patientKey, [alert]);
  }
  return grouped;
}

/**
 * Follow-up timelines and alerts on PostgreSQL (the same rules as the SQLite store). A batch of
 * patients is saved with a fixed number of statements, each over arrays (`unnest`), not seven round
 * trips per patient: the follow-up worker's statements were most of the database's work at ingest
 * (issue 30's profile).
 */
export class PgFollowupStore extends SqlFollowupReads implements FollowupStore {
  constructor(
    private readonly pool: pg.Pool,
    port: SqlPort,
  ) {
    super(port);
  }

  saveTimelines(entries: TimelineSave[]): Promise<TimelineSaveOutcome[]> {
    if (entries.length === 0) return Promise.resolve([]);
    return inTransaction(this.pool, 'saveTimelines', async (c) => {
      const outcomes: TimelineSaveOutcome[] = new Array(entries.length);
      for (const positions of distinctPatientGroups(entries)) {
        const saved = await this.saveDistinct(
          c,
          positions.map((i) => entries[i] as TimelineSave),
        );
        for (const [k, i] of positions.entries()) outcomes[i] = saved[k] as TimelineSaveOutcome;
      }
      return outcomes;
    });
  }

  /** Saves patients named once each, given in patient-key order (the order their locks are taken in). */
  private async saveDistinct(c: pg.PoolClient, entries: TimelineSave[]): Promise<TimelineSaveOutcome[]> {
    const now = new Date().toISOString();
    const s = entries.map((e) => e.summary);
    const keys = s.map((x) => x.patientKey);
    // One writer per patient at a time, whichever connection or hub replica saves it: the locks last
    // until this transaction ends, and are taken in key order (unnest keeps the array's order), so
    // two replicas saving overlapping batches wait for each other instead of deadlocking.
    await c.query("SELECT pg_advisory_xact_lock(hashtext('vigil.patient:' || k)) FROM unnest($1::text[]) AS k", [keys]);
    await c.query(
      `INSERT INTO patients (patient_key, clinic_id, clinic_ids, first_study_date, last_study_date, last_study_key, studies,
          category, due_date, updated_at)
        SELECT t.*, $10::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
          $8::int[], $9::text[]) AS t
        ON CONFLICT (patient_key) DO UPDATE SET clinic_id = EXCLUDED.clinic_id, clinic_ids = EXCLUDED.clinic_ids,
          first_study_date = EXCLUDED.first_study_date, last_study_date = EXCLUDED.last_study_date,
          last_study_key = EXCLUDED.last_study_key, studies = EXCLUDED.studies, category = EXCLUDED.category,
          due_date = EXCLUDED.due_date, updated_at = EXCLUDED.updated_at`,
      [
        keys,
        s.map((x) => x.clinicId),
        s.map((x) => JSON.stringify(x.clinicIds)),
        s.map((x) => x.firstStudyDate),
        s.map((x) => x.lastStudyDate),
        s.map((x) => x.lastStudyKey),
        s.map((x) => x.studies),
        s.map((x) => x.category),
        s.map((x) => x.dueDate),
        now,
      ],
    );
    const pairs = s.flatMap((x) => x.clinicIds.map((clinicId) => [x.patientKey, clinicId] as const));
    await c.query(
      'INSERT INTO patient_clinics (patient_key, clinic_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING',
      [pairs.map((p) => p[0]), pairs.map((p) => p[1])],
    );
    // The patients' active alerts, locked against a clinician's acknowledgement racing this save.
    const active = (
      await c.query(
        "SELECT * FROM alerts WHERE patient_key = ANY($1::text[]) AND status != 'resolved' ORDER BY patient_key, alert_key FOR UPDATE",
        [keys],
      )
    ).rows as Row[];
    const conditions = entries.flatMap((e) => e.conditions);
    const position = new Map(conditions.map((cond, i) => [cond.alertKey, i]));
    const rank = (alertKey: string) => position.get(alertKey) ?? 0;
    const opened = await this.openAlerts(c, conditions, now);
    const openedKeys = new Set(opened.map((row) => row.alert_key as string));
    const updated = await this.refreshAlerts(
      c,
      conditions.filter((cond) => !openedKeys.has(cond.alertKey)),
      now,
    );
    const holds = new Set(conditions.map((cond) => `${cond.patientKey}\u0000${cond.alertKey}`));
    const ended = active.filter((row) => !holds.has(`${row.patient_key as string}\u0000${row.alert_key as string}`));
    const activeRank = new Map(ended.map((row, i) => [row.alert_key as string, i]));
    const resolved =
      ended.length === 0
        ? []
        : (
            await c.query(
              `UPDATE alerts SET status = 'resolved', resolved_by = 'system', resolved_at = $1, updated_at = $1,
                note = 'condition no longer holds' WHERE alert_key = ANY($2::text[]) RETURNING *`,
              [now, ended.map((row) => row.alert_key)],
            )
          ).rows;
    // Recounted in one grouped read of the batch's alerts (a correlated count per patient made the
    // planner scan the alerts once per patient).
    await c.query(
      `UPDATE patients p SET open_alerts = coalesce(n.open, 0)
        FROM unnest($1::text[]) AS k(patient_key)
        LEFT JOIN (SELECT patient_key, COUNT(*) AS open FROM alerts WHERE patient_key = ANY($1::text[]) AND status != 'resolved'
          GROUP BY patient_key) n USING (patient_key)
        WHERE p.patient_key = k.patient_key`,
      [keys],
    );
    const openedBy = alertsByPatient(opened, rank);
    const updatedBy = alertsByPatient(updated, rank);
    const resolvedBy = alertsByPatient(resolved as Row[], (k) => activeRank.get(k) ?? 0);
    return keys.map((key) => ({
      opened: openedBy.get(key) ?? [],
      autoResolved: resolvedBy.get(key) ?? [],
      updated: updatedBy.get(key) ?? [],
    }));
  }

  /** Inserts the conditions' alerts that do not exist yet; the rows it inserted. */
  private async openAlerts(c: pg.PoolClient, conditions: AttributedCondition[], now: string): Promise<Row[]> {
    if (conditions.length === 0) return [];
    const inserted = await c.query(
      `INSERT INTO alerts (alert_key, kind, severity, patient_key, clinic_id, device_id, laterality, view, study_key,
          study_date, track_id, reason, figures_json, status, created_at, updated_at)
        SELECT t.*, 'open', $14::text, $14::text FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
          $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::text[]) AS t
        ON CONFLICT (alert_key) DO NOTHING RETURNING *`,
      [
        conditions.map((x) => x.alertKey),
        conditions.map((x) => x.kind),
        conditions.map((x) => x.severity),
        conditions.map((x) => x.patientKey),
        conditions.map((x) => x.clinicId),
        conditions.map((x) => x.deviceId),
        conditions.map((x) => x.laterality),
        conditions.map((x) => x.view),
        conditions.map((x) => x.studyKey),
        conditions.map((x) => x.studyDate),
        conditions.map((x) => x.trackId),
        conditions.map((x) => x.reason),
        conditions.map((x) => JSON.stringify(x.figures)),
        now,
      ],
    );
    return inserted.rows as Row[];
  }

  /** Open alerts whose severity, wording or figures changed with new evidence; the rows it updated. */
  private async refreshAlerts(c: pg.PoolClient, conditions: AttributedCondition[], now: string): Promise<Row[]> {
    if (conditions.length === 0) return [];
    const refreshed = await c.query(
      `UPDATE alerts a SET severity = u.severity, reason = u.reason, figures_json = u.figures, updated_at = $5
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(alert_key, severity, reason, figures)
        WHERE a.alert_key = u.alert_key AND a.status = 'open'
          AND (a.severity != u.severity OR a.reason != u.reason OR a.figures_json != u.figures)
        RETURNING a.*`,
      [
        conditions.map((x) => x.alertKey),
        conditions.map((x) => x.severity),
        conditions.map((x) => x.reason),
        conditions.map((x) => JSON.stringify(x.figures)),
        now,
      ],
    );
    return refreshed.rows as Row[];
  }
}
