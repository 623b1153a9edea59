import { pseudonym, VigilError } from '@vigil/shared';
import type { DicomIdentity } from './dicom-identity.js';

/**
 * What leaves the de-identification step: pseudonyms and the few clinical attributes follow-up
 * needs. This is an allow-list, so PS3.15's Basic Application Level Confidentiality Profile holds
 * by construction: names, ids, birth date, addresses, free text, device serials and private tags
 * are never copied. With the Retain Longitudinal Temporal Information option, study dates and the
 * age in years are kept (follow-up needs intervals).
 */
export interface DeidentifiedImage {
  patientKey: string;
  studyKey: string;
  seriesKey: string;
  instanceKey: string;
  /** YYYY-MM-DD */
  studyDate: string;
  patientAgeYears: number | undefined;
  modality: string;
  laterality: 'L' | 'R' | 'U';
  view: string;
  /** The image itself may carry burned-in text (0028,0301 = YES): never share its pixels. */
  burnedInAnnotation: boolean;
}

function isoDate(da: string): string | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(da.replace(/[.-]/g, ''));
  return m ? `${m[1]}-${m[2]}-${m[3]}` : undefined;
}

/** Age in whole years from PatientAge (AS: nnnD/W/M/Y) or, failing that, birth and study dates. */
export function ageInYears(identity: Pick<DicomIdentity, 'patientAge' | 'birthDate' | 'studyDate'>): number | undefined {
  const m = /^(\d{3})([DWMY])$/.exec(identity.patientAge);
  if (m) {
    const n = Number(m[1]);
    const years = { D: n / 365.25, W: (n * 7) / 365.25, M: n / 12, Y: n }[m[2] as 'D' | 'W' | 'M' | 'Y'];
    return Math.floor(years);
  }
  const birth = isoDate(identity.birthDate);
  const study = isoDate(identity.studyDate);
  if (!birth || !study) return undefined;
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number];
  const [sy, sm, sd] = study.split('-').map(Number) as [number, number, number];
  const age = sy - by - (sm < bm || (sm === bm && sd < bd) ? 1 : 0);
  return age >= 0 && age <= 130 ? age : undefined;
}

function laterality(identity: DicomIdentity): 'L' | 'R' | 'U' {
  const value = (identity.imageLaterality || identity.laterality).toUpperCase();
  return value === 'L' || value === 'R' ? value : 'U';
}

/**
 * The mammography views a View Position (0018,5101) may name: the defined terms of the mammography
 * view codes (CID 4014), as modalities write them. Anything else is refused: a free text such as
 * "RIGHT CC VIEW" must not reach the hub as a made-up view.
 */
export const MAMMOGRAPHY_VIEWS: ReadonlySet<string> = new Set([
  'CC',
  'MLO',
  'ML',
  'LM',
  'LMO',
  'SIO',
  'FB',
  'XCCL',
  'XCCM',
  'AT',
  'CV',
  'SLO',
  'LLM',
]);
/** Laterality written into the view by some modalities ("RCC", "LMLO"): the laterality is read apart. */
const WITH_SIDE = /^[LR](CC|MLO)$/;

/** The view, or VIGIL_DICOM_VIEW_INVALID; 'UNKNOWN' when the instance names none. */
function view(identity: DicomIdentity): string {
  const v = identity.viewPosition.trim().toUpperCase();
  if (v === '') return 'UNKNOWN';
  if (MAMMOGRAPHY_VIEWS.has(v)) return v;
  if (WITH_SIDE.test(v)) return v.slice(1);
  throw new VigilError(
    'VIGIL_DICOM_VIEW_INVALID',
    `View Position ${JSON.stringify(v.slice(0, 16))} is not a mammography view (${[...MAMMOGRAPHY_VIEWS].join(', ')})`,
  );
}

export interface DeidentifyOptions {
  /** Clinic secret for the keyed pseudonyms (rotatable: docs/operations.md). */
  secret: string;
  /** Issuer used when the instance has no Issuer of Patient ID (usually the clinic id). */
  defaultIssuer: string;
}

export function deidentify(identity: DicomIdentity, options: DeidentifyOptions): DeidentifiedImage {
  const issuer = identity.issuerOfPatientId || options.defaultIssuer;
  const studyDate = isoDate(identity.studyDate) ?? isoDate(identity.seriesDate) ?? isoDate(identity.contentDate) ?? '1900-01-01';
  return {
    patientKey: pseudonym(options.secret, 'patient', `${issuer}|${identity.patientId}`),
    studyKey: pseudonym(options.secret, 'study', identity.studyInstanceUid),
    seriesKey: pseudonym(options.secret, 'series', identity.seriesInstanceUid),
    instanceKey: pseudonym(options.secret, 'instance', identity.sopInstanceUid),
    studyDate,
    patientAgeYears: ageInYears(identity),
    modality: /^[A-Z]{2}$/.test(identity.modality) ? identity.modality : 'OT',
    laterality: laterality(identity),
    view: view(identity),
    burnedInAnnotation: identity.burnedInAnnotation.toUpperCase() === 'YES',
  };
}
