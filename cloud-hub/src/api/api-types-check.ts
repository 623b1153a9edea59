// Compile-time checks that the API's literal unions are the features' own: adding an alert kind,
// a rollout state or a role to a feature without adding it to the API schema (or the other way
// round) fails `tsc`. Nothing here runs.
import type { TelemetryMessage } from '@vigil/shared';
import type { Role, SessionStage } from '../auth/user-store.js';
import type { AlertStatus } from '../followup/followup-store.js';
import type { AlertKind, AlertSeverity } from '../followup/followup-types.js';
import type { OpsAlert as FeatureOpsAlert } from '../ops/ops-alert-store.js';
import type {
  RolloutDeviceState,
  GateFigure as RolloutGate,
  RolloutMode,
  RolloutSpec,
  RolloutState,
} from '../rollout/rollout-store.js';
import type { PerformanceReport as FeaturePerformanceReport } from '../verdicts/performance.js';
import type { VerdictInput as FeatureVerdictInput } from '../verdicts/verdict-service.js';
import type { VerdictRecord } from '../verdicts/verdict-types.js';
import type {
  Alert,
  GateFigure,
  Me,
  OpsAlert,
  PacsDestination,
  PerformanceReport,
  RolloutDeviceInfo,
  RolloutInfo,
  Verdict,
  VerdictInput,
} from './api-types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export const API_UNIONS_MATCH_FEATURES: [
  Same<Alert['kind'], AlertKind>,
  Same<Alert['severity'], AlertSeverity>,
  Same<Alert['status'], AlertStatus>,
  Same<Me['role'], Role>,
  Same<Me['stage'], SessionStage>,
  Same<GateFigure['gate'], RolloutGate['gate']>,
  Same<GateFigure['status'], RolloutGate['status']>,
  Same<RolloutInfo['state'], RolloutState>,
  Same<RolloutInfo['mode'], RolloutMode>,
  Same<RolloutInfo['spec']['onTrip'], RolloutSpec['onTrip']>,
  Same<RolloutDeviceInfo['state'], RolloutDeviceState>,
  Same<Verdict, VerdictRecord>,
  Same<VerdictInput, FeatureVerdictInput>,
  Same<PerformanceReport, FeaturePerformanceReport>,
  Same<OpsAlert, FeatureOpsAlert>,
  Same<PacsDestination, NonNullable<TelemetryMessage['pacs']>[number]>,
] = [true, true, true, true, true, true, true, true, true, true, true, true, true, true, true, true];
