import type { AlertFilter } from '../followup/followup-store.js';
import type { ModelResultFilter, ResultFilter } from '../results/result-store.js';

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
    [f.level === 'review' ? 'severity =' : 'severity !=', f.level ? 'info' : undefined],
    ['patient_key =', f.patientKey],
    ['clinic_id =', f.clinicId],
  ]);
}

/** A condition with `?` placeholders and their values, engine-neutral (PostgreSQL renumbers them). */
export interface Fragment {
  sql: string;
  values: string[];
}

function inList(column: string, values: readonly string[]): Fragment {
  // No clinic at all: a user assigned none sees nothing, never everything.
  if (values.length === 0) return { sql: '1 = 0', values: [] };
  return { sql: `${column} IN (${values.map(() => '?').join(', ')})`, values: [...values] };
}

/** Patients with a study at one of the clinics (every clinic they were seen at, not only the first). */
export function patientScope(scope: readonly string[], column = 'patient_key'): Fragment {
  const clinics = inList('clinic_id', scope);
  return { sql: `${column} IN (SELECT patient_key FROM patient_clinics WHERE ${clinics.sql})`, values: clinics.values };
}

/**
 * Results a clinic-scoped user may see: the scope's own results only. A patient seen at another
 * clinic too (the same pseudonym from another clinic's device) does not open that clinic's results:
 * a device's result is a claim about its own clinic, never a grant to another's records.
 */
export function resultScope(scope: readonly string[]): Fragment {
  return inList('clinic_id', scope);
}

export function clinicScope(scope: readonly string[], column = 'clinic_id'): Fragment {
  return inList(column, scope);
}

/** `WHERE a AND b …` of the fragments with their values in order, or nothing when there are none. */
export function whereOf(fragments: readonly { sql: string; values: readonly unknown[] }[]): { sql: string; values: unknown[] } {
  return {
    sql: fragments.length ? `WHERE ${fragments.map((f) => f.sql).join(' AND ')}` : '',
    values: fragments.flatMap((f) => f.values),
  };
}
