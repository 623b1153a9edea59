import type { AlertFilter } from '../followup/followup-store.js';
import type { ModelResultFilter, ResultFilter } from '../state/state-store.js';

/**
 * The optional conditions of the list queries, engine-neutral: each is a column with its operator
 * and the value to compare with; every engine writes them with its own placeholders. Unset filters
 * give no condition.
 */
export type Condition = readonly [columnAndOperator: string, value: string | number];

function present(conditions: readonly (readonly [string, string | number | undefined])[]): Condition[] {
  return conditions.filter((c): c is Condition => c[1] !== undefined);
}

export function resultConditions(f: ResultFilter): Condition[] {
  return present([
    ['clinic_id =', f.clinicId],
    ['device_id =', f.deviceId],
    ['patient_key =', f.patientKey],
    ['created_at >=', f.from],
    ['created_at <', f.to],
    ['score >=', f.minScore],
  ]);
}

/** Besides the model name, shadow flag and devices, which every such query has. */
export function modelResultConditions(f: ModelResultFilter): Condition[] {
  return present([
    ['model_version =', f.modelVersion],
    ['model_version !=', f.excludeVersion],
    ['created_at >=', f.createdFrom],
    ['created_at <', f.createdBefore],
  ]);
}

export function alertConditions(f: AlertFilter): Condition[] {
  return present([
    ['status =', f.status],
    ['kind =', f.kind],
    ['severity =', f.severity],
    ['patient_key =', f.patientKey],
    ['clinic_id =', f.clinicId],
  ]);
}
