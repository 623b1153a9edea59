// The API's response types, each derived from its route schema (TypeBox `Static`): one declaration
// from schema to dashboard. The dashboard imports these type-only, so a change of the API breaks the
// dashboard's build. This module and api-schemas.ts import nothing but TypeBox, so the dashboard's
// compiler (browser settings) can read them.
import type { Static } from '@sinclair/typebox';
import type {
  AlertSchema,
  AuditEntrySchema,
  AuditVerificationSchema,
  DeviceSummarySchema,
  GateFigureSchema,
  MeSchema,
  ModelEntrySchema,
  OpsAlertSchema,
  OutcomeImportSchema,
  PacsDestinationSchema,
  PatientSummarySchema,
  PerformanceReportSchema,
  RecoveryCodesSchema,
  ReidTokenSchema,
  ResultSchema,
  RolloutDetailSchema,
  RolloutDeviceSchema,
  RolloutSchema,
  RolloutStartedSchema,
  TelemetryPointSchema,
  TimelineSchema,
  TotpEnrolmentSchema,
  VerdictInputSchema,
  VerdictSchema,
} from './api-schemas.js';

export type Alert = Static<typeof AlertSchema>;
export type AuditEntry = Static<typeof AuditEntrySchema>;
export type DeviceSummary = Static<typeof DeviceSummarySchema>;
export type GateFigure = Static<typeof GateFigureSchema>;
export type Me = Static<typeof MeSchema>;
export type ModelEntry = Static<typeof ModelEntrySchema>;
export type PatientSummary = Static<typeof PatientSummarySchema>;
export type Result = Static<typeof ResultSchema>;
export type RolloutDeviceInfo = Static<typeof RolloutDeviceSchema>;
export type RolloutInfo = Static<typeof RolloutSchema>;
export type Timeline = Static<typeof TimelineSchema>;
export type AuditVerification = Static<typeof AuditVerificationSchema>;
export type RecoveryCodes = Static<typeof RecoveryCodesSchema>;
export type RolloutDetail = Static<typeof RolloutDetailSchema>;
export type RolloutStarted = Static<typeof RolloutStartedSchema>;
export type TelemetryPoint = Static<typeof TelemetryPointSchema>;
export type TotpEnrolment = Static<typeof TotpEnrolmentSchema>;

/** A page of a list route. */
export interface Page<T> {
  items: T[];
  next: string | null;
}
export type Verdict = Static<typeof VerdictSchema>;
export type VerdictInput = Static<typeof VerdictInputSchema>;
export type OutcomeImport = Static<typeof OutcomeImportSchema>;
export type PerformanceReport = Static<typeof PerformanceReportSchema>;
export type OpsAlert = Static<typeof OpsAlertSchema>;
export type PacsDestination = Static<typeof PacsDestinationSchema>;
export type ReidToken = Static<typeof ReidTokenSchema>;
