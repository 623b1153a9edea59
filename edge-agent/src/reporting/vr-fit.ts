import { VigilError } from '@vigil/shared';
import dcmjs from 'dcmjs';

/**
 * Makes every value of a naturalized dataset fit its VR before it is encoded (PS3.5 §6.2): strings
 * cut to the VR's maximum length, values a VR cannot hold (a date that is not YYYYMMDD, a code
 * string with lower case) emptied. The values come from the modality's images (a 70-character
 * name, a 20-character accession number) and from the model; DICOM allows a receiving application
 * to truncate or drop a value it cannot keep, which is what this does, and it reports what it did
 * by attribute keyword only: a value itself (a name, an ID) never reaches a note or a log line.
 * UIDs are identity, not text: one that does not fit UI is an error (VIGIL_DICOM_VALUE_INVALID).
 * The VRs come from dcmjs's data dictionary (the one its encoder uses), not a table kept here.
 */
export interface VrNote {
  /** The attribute's keyword, with its path for an attribute inside a sequence item. */
  keyword: string;
  action: 'truncated' | 'dropped';
  /** The VR's limit, and the length the value had (no value). */
  vr: string;
  length: number;
}

const { DicomMetaDictionary } = dcmjs.data;
const nameMap = DicomMetaDictionary.nameMap as Record<string, { vr: string } | undefined>;

/** Maximum length in characters per value (PS3.5 Table 6.2-1); PN per component group. */
const MAX_CHARS: Record<string, number> = {
  AE: 16,
  AS: 4,
  CS: 16,
  DA: 8,
  DS: 16,
  DT: 26,
  IS: 12,
  LO: 64,
  LT: 10_240,
  PN: 64,
  SH: 16,
  ST: 1_024,
  TM: 14,
};
/** What a value of these VRs may look like; anything else is dropped. */
const PATTERN: Record<string, RegExp> = {
  AS: /^\d{3}[DWMY]$/,
  CS: /^[A-Z0-9 _]*$/,
  DA: /^\d{8}$/,
  DS: /^[ ]*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?[ ]*$/,
  IS: /^[ ]*[+-]?\d+[ ]*$/,
  TM: /^\d{2}(\d{2}(\d{2}(\.\d{1,6})?)?)?$/,
};
const UID = /^(0|[1-9]\d*)(\.(0|[1-9]\d*))*$/;
/** Text VRs whose values may not contain a backslash (the value delimiter) or control characters. */
const SINGLE_LINE = new Set(['AE', 'CS', 'LO', 'PN', 'SH']);
/** A backslash (the value delimiter) or a C0 control character: neither may stand inside one value. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point.
const FORBIDDEN = /[\\\u0000-\u001f]/g;

function fitString(value: string, vr: string): { value: string; action?: VrNote['action'] } {
  const max = MAX_CHARS[vr];
  let out = value;
  let action: VrNote['action'] | undefined;
  if (SINGLE_LINE.has(vr) && out.search(FORBIDDEN) >= 0) {
    out = out.replace(FORBIDDEN, ' ');
    action = 'truncated';
  }
  if (max !== undefined && [...out].length > max) {
    out = [...out].slice(0, max).join('').trimEnd();
    action = 'truncated';
  }
  const pattern = PATTERN[vr];
  if (pattern && out !== '' && !pattern.test(out)) return { value: '', action: 'dropped' };
  return action ? { value: out, action } : { value: out };
}

function fitPersonName(value: unknown): { value: unknown; action?: VrNote['action']; length: number } {
  // dcmjs naturalizes PN as [{ Alphabetic, Ideographic, Phonetic }] (or a plain string).
  if (typeof value === 'string') {
    const r = fitString(value, 'PN');
    return { ...r, length: value.length };
  }
  if (!value || typeof value !== 'object') return { value, length: 0 };
  const groups = value as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  let action: VrNote['action'] | undefined;
  let length = 0;
  for (const [group, text] of Object.entries(groups)) {
    if (typeof text !== 'string') continue;
    length = Math.max(length, text.length);
    const r = fitString(text, 'PN');
    if (r.action) action = r.action;
    out[group] = r.value;
  }
  return action ? { value: out, action, length } : { value: out, length };
}

function fitValue(keyword: string, vr: string, value: unknown, notes: VrNote[]): unknown {
  if (vr === 'UI') {
    if (typeof value === 'string' && value !== '' && (value.length > 64 || !UID.test(value))) {
      throw new VigilError('VIGIL_DICOM_VALUE_INVALID', `${keyword} is not a valid UID (${value.length} characters)`);
    }
    return value;
  }
  if (vr === 'PN') {
    const r = fitPersonName(value);
    if (r.action) notes.push({ keyword, action: r.action, vr, length: r.length });
    return r.value;
  }
  if (typeof value === 'string' && (MAX_CHARS[vr] !== undefined || PATTERN[vr])) {
    const r = fitString(value, vr);
    if (r.action) notes.push({ keyword, action: r.action, vr, length: value.length });
    return r.value;
  }
  return value;
}

/** A copy of `dataset` whose every value fits its VR, and what was changed (keywords only). */
export function fitToVr(dataset: Record<string, unknown>, path = ''): { dataset: Record<string, unknown>; notes: VrNote[] } {
  const notes: VrNote[] = [];
  const out: Record<string, unknown> = {};
  for (const [keyword, value] of Object.entries(dataset)) {
    const vr = nameMap[keyword]?.vr;
    const where = path ? `${path}.${keyword}` : keyword;
    if (vr === 'SQ' && Array.isArray(value)) {
      out[keyword] = value.map((item, k) => {
        if (!item || typeof item !== 'object') return item;
        const r = fitToVr(item as Record<string, unknown>, `${where}[${k}]`);
        notes.push(...r.notes);
        return r.dataset;
      });
      continue;
    }
    if (!vr) {
      out[keyword] = value;
      continue;
    }
    out[keyword] = Array.isArray(value) ? value.map((v) => fitValue(where, vr, v, notes)) : fitValue(where, vr, value, notes);
  }
  return { dataset: out, notes };
}
