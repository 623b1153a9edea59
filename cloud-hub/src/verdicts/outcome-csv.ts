import { VigilError } from '@vigil/shared';
import { parse } from 'csv-parse';
import type { VerdictInput } from './verdict-service.js';
import { OUTCOMES, type Outcome } from './verdict-types.js';

/**
 * The outcomes file hospitals export from their pathology or RIS systems, keyed by the pseudonyms
 * the clinic's edge gives each patient and study (RFC 4180 CSV, UTF-8, a header line):
 *
 *   patient_key,study_key,outcome,laterality,outcome_date,birads
 *
 * `outcome` is malignant | benign | stable (or empty), `laterality` L | R (or empty: the whole
 * study), `outcome_date` YYYY-MM-DD (or empty), `birads` 0–6 (or empty); each line needs an outcome
 * or a BI-RADS assessment (or both: two verdicts).
 */
export const OUTCOME_COLUMNS = ['patient_key', 'study_key', 'outcome', 'laterality', 'outcome_date', 'birads'] as const;

const KEY = /^[0-9a-f]{32}$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;
/**
 * Lines one import takes (VIGIL_IMPORT_TOO_LARGE past it): about 1.8 MB of CSV, checked and stored
 * in a few seconds in yielding batches; a pathology system's yearly export is split into several.
 */
export const MAX_OUTCOME_LINES = 20_000;

export interface OutcomeLine {
  /** 1-based line number in the file (the header is line 1). */
  line: number;
  inputs: VerdictInput[];
}

export interface LineError {
  line: number;
  reason: string;
}

/** The error for a file with bad lines: every line is named, nothing is imported. */
export function importError(errors: readonly LineError[]): VigilError {
  const shown = errors.slice(0, 20).map((e) => `line ${e.line}: ${e.reason}`);
  const more = errors.length > shown.length ? `; and ${errors.length - shown.length} more` : '';
  return new VigilError(
    'VIGIL_IMPORT_INVALID',
    `${errors.length} bad line${errors.length === 1 ? '' : 's'}, nothing imported: ${shown.join('; ')}${more}`,
  );
}

function parseLine(record: Record<string, string>): VerdictInput[] | string {
  const patientKey = record.patient_key ?? '';
  const studyKey = record.study_key ?? '';
  if (!KEY.test(patientKey)) return 'patient_key must be 32 lowercase hex characters (the edge’s pseudonym)';
  if (!KEY.test(studyKey)) return 'study_key must be 32 lowercase hex characters (the edge’s pseudonym)';
  const inputs: VerdictInput[] = [];
  const outcome = record.outcome ?? '';
  const laterality = record.laterality ?? '';
  const date = record.outcome_date ?? '';
  const birads = record.birads ?? '';
  if (outcome) {
    if (!(OUTCOMES as readonly string[]).includes(outcome)) return `outcome must be one of ${OUTCOMES.join(', ')}`;
    if (laterality && laterality !== 'L' && laterality !== 'R') return 'laterality must be L, R or empty';
    if (date && (!DATE.test(date) || Number.isNaN(Date.parse(`${date}T00:00:00Z`)))) return 'outcome_date must be YYYY-MM-DD';
    inputs.push({
      kind: 'outcome',
      patientKey,
      studyKey,
      outcome: outcome as Outcome,
      ...(laterality ? { laterality: laterality as 'L' | 'R' } : {}),
      ...(date ? { date } : {}),
    });
  } else if (laterality || date) {
    return 'laterality and outcome_date belong to an outcome; the outcome is empty';
  }
  if (birads) {
    if (!/^[0-6]$/.test(birads)) return 'birads must be a whole number 0–6';
    inputs.push({ kind: 'assessment', patientKey, studyKey, birads: Number(birads) });
  }
  if (inputs.length === 0) return 'the line has neither an outcome nor a BI-RADS assessment';
  return inputs;
}

export interface ParsedOutcomes {
  lines: OutcomeLine[];
  /** Lines that are malformed; the importer adds the lines naming studies it does not know. */
  errors: LineError[];
}

/** Characters parsed between two yields to the event loop (about 200 lines, a few milliseconds). */
const CHUNK_CHARS = 16 * 1024;

type CsvRecord = { record: string[]; info: { lines: number } };

/**
 * Parses a whole file and checks every line, in chunks that yield to the event loop between them
 * (csv-parse's streaming parser fed by hand): a large file never holds the hub's loop for more than
 * a few milliseconds. A file that is not CSV or lacks the header fails at once (VIGIL_IMPORT_INVALID);
 * one with more than MAX_OUTCOME_LINES lines fails as soon as the parser passes the limit
 * (VIGIL_IMPORT_TOO_LARGE); bad lines are listed for the importer, which refuses the file whole.
 */
export async function parseOutcomesCsv(text: string): Promise<ParsedOutcomes> {
  const parser = parse({ bom: true, skip_empty_lines: true, trim: true, relax_column_count: true, info: true });
  let failure: Error | undefined;
  parser.on('error', (error) => {
    failure = error;
  });
  let header: string[] | undefined;
  let count = 0;
  const errors: LineError[] = [];
  const out: OutcomeLine[] = [];
  const take = (r: CsvRecord) => {
    if (!header) {
      header = r.record;
      const missing = OUTCOME_COLUMNS.filter((c) => !header?.includes(c));
      if (missing.length > 0) throw importError([{ line: 1, reason: `the header lacks ${missing.join(', ')}` }]);
      return;
    }
    count += 1;
    if (count > MAX_OUTCOME_LINES) {
      throw new VigilError(
        'VIGIL_IMPORT_TOO_LARGE',
        `more than ${MAX_OUTCOME_LINES} lines (line ${r.info.lines} is past the limit), nothing imported: split the file`,
      );
    }
    const line = r.info.lines;
    if (r.record.length !== header.length) {
      errors.push({ line, reason: `${r.record.length} fields where the header has ${header.length}` });
      return;
    }
    const cells = r.record;
    const record = Object.fromEntries(header.map((h, k) => [h, cells[k] ?? '']));
    const parsed = parseLine(record);
    if (typeof parsed === 'string') errors.push({ line, reason: parsed });
    else out.push({ line, inputs: parsed });
  };
  const drain = () => {
    if (failure) {
      const line = (failure as { lines?: number }).lines ?? 0;
      throw importError([{ line, reason: `not valid CSV: ${failure.message}` }]);
    }
    for (let r = parser.read() as CsvRecord | null; r !== null; r = parser.read() as CsvRecord | null) take(r);
  };
  try {
    for (let at = 0; at < text.length; at += CHUNK_CHARS) {
      parser.write(text.slice(at, at + CHUNK_CHARS));
      drain();
      await yieldToLoop();
    }
    parser.end();
    drain();
  } finally {
    parser.destroy();
  }
  if (!header) throw importError([{ line: 1, reason: 'the file is empty' }]);
  return { lines: out, errors };
}

/** Lets timers and I/O run (a macrotask turn, not a microtask). */
export const yieldToLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
