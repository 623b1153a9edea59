import type { ReviewFacts, ReviewFilter, VerdictFilter } from '../verdicts/verdict-store.js';
import type { NewVerdict, VerdictRecord } from '../verdicts/verdict-types.js';
import { clinicScope, type Fragment } from './query-conditions.js';
import { toStoredResult } from './state-rows.js';

type Row = Record<string, unknown>;

/** Insert order of the verdicts table's columns (both engines). */
export const VERDICT_COLUMNS = [
  'verdict_id',
  'subject',
  'kind',
  'patient_key',
  'study_key',
  'clinic_id',
  'result_id',
  'finding_index',
  'value_json',
  'author',
  'source',
  'created_at',
  'supersedes',
] as const;

export function verdictRowValues(v: VerdictRecord): (string | number | null)[] {
  return [
    v.verdictId,
    v.subject,
    v.kind,
    v.patientKey,
    v.studyKey,
    v.clinicId,
    v.resultId,
    v.findingIndex,
    JSON.stringify(v.value),
    v.author,
    v.source,
    v.createdAt,
    v.supersedes,
  ];
}

export function toVerdict(row: Row): VerdictRecord {
  return {
    verdictId: row.verdict_id as string,
    subject: row.subject as string,
    kind: row.kind as VerdictRecord['kind'],
    patientKey: row.patient_key as string,
    studyKey: row.study_key as string,
    clinicId: row.clinic_id as string,
    resultId: (row.result_id as string | null) ?? null,
    findingIndex: row.finding_index === null || row.finding_index === undefined ? null : Number(row.finding_index),
    value: JSON.parse(row.value_json as string) as VerdictRecord['value'],
    author: row.author as string,
    source: row.source as VerdictRecord['source'],
    createdAt: row.created_at as string,
    supersedes: (row.supersedes as string | null) ?? null,
  };
}

/** A stored verdict from a new one: the id, time and the verdict it supersedes are the store's. */
export function stampVerdict(v: NewVerdict, verdictId: string, createdAt: string, supersedes: string | null): VerdictRecord {
  return { ...v, verdictId, createdAt, supersedes };
}

/** Conditions on the `v` alias of the current-verdicts query. */
export function verdictConditions(f: VerdictFilter | ReviewFilter): Fragment[] {
  const out: Fragment[] = [];
  if ('patientKey' in f && f.patientKey !== undefined) out.push({ sql: 'v.patient_key = ?', values: [f.patientKey] });
  if ('studyKey' in f && f.studyKey !== undefined) out.push({ sql: 'v.study_key = ?', values: [f.studyKey] });
  if (f.clinicScope) out.push(clinicScope(f.clinicScope, 'v.clinic_id'));
  return out;
}

/** The newest verdict of each subject (one index probe per row on verdicts_subject). */
export const CURRENT_VERDICT = 'v.seq = (SELECT MAX(w.seq) FROM verdicts w WHERE w.subject = v.subject)';

/** Verdicts joined with their results (one row per verdict) as review facts, each result once. */
export function factsFromJoin(rows: Row[]): ReviewFacts {
  const results = new Map<string, ReviewFacts['results'][number]>();
  const verdicts = rows.map((row) => {
    const v = toVerdict(row);
    if (v.resultId && !results.has(v.resultId)) results.set(v.resultId, toStoredResult(row));
    return v;
  });
  return { verdicts, results: [...results.values()] };
}
