import type { ResultMessage } from '@vigil/shared';
import type { AlertRecord, AlertStatus, PatientSummary } from '../followup/followup-store.js';
import type { FollowupObservation } from '../followup/followup-types.js';

type Row = Record<string, unknown>;

export function toAlert(row: Row): AlertRecord {
  return {
    alertKey: row.alert_key as string,
    kind: row.kind as AlertRecord['kind'],
    severity: row.severity as AlertRecord['severity'],
    patientKey: row.patient_key as string,
    clinicId: row.clinic_id as string,
    deviceId: (row.device_id as string | null) ?? null,
    laterality: (row.laterality as AlertRecord['laterality']) ?? null,
    view: (row.view as string | null) ?? null,
    studyKey: row.study_key as string,
    studyDate: row.study_date as string,
    trackId: (row.track_id as string | null) ?? null,
    reason: row.reason as string,
    figures: JSON.parse(row.figures_json as string) as Record<string, number>,
    status: row.status as AlertStatus,
    createdAt: row.created_at as string,
    updatedAt: row.updated_at as string,
    acknowledgedBy: (row.acknowledged_by as string | null) ?? null,
    acknowledgedAt: (row.acknowledged_at as string | null) ?? null,
    resolvedBy: (row.resolved_by as string | null) ?? null,
    resolvedAt: (row.resolved_at as string | null) ?? null,
    note: (row.note as string | null) ?? null,
  };
}

export function toPatient(row: Row): PatientSummary {
  return {
    patientKey: row.patient_key as string,
    clinicId: row.clinic_id as string,
    clinicIds: JSON.parse(row.clinic_ids as string) as string[],
    firstStudyDate: row.first_study_date as string,
    lastStudyDate: row.last_study_date as string,
    lastStudyKey: row.last_study_key as string,
    studies: Number(row.studies),
    category: Number(row.category),
    dueDate: (row.due_date as string | null) ?? null,
    openAlerts: Number(row.open_alerts),
    updatedAt: row.updated_at as string,
  };
}

/** A stored result as the follow-up engine's observation. */
export function observationOf(r: ResultMessage): FollowupObservation {
  return {
    resultId: r.messageId,
    patientKey: r.patientKey,
    studyKey: r.studyKey,
    studyDate: r.studyDate,
    laterality: r.laterality,
    view: r.view,
    clinicId: r.clinicId,
    deviceId: r.deviceId,
    createdAt: r.createdAt,
    score: r.score,
    findings: r.findings,
    imageWidthMm: r.image.columns * r.image.pixelSpacingMm,
    ...(r.image.tissueFraction !== undefined ? { tissueFraction: r.image.tissueFraction } : {}),
  };
}
