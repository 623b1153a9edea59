import { createHash } from 'node:crypto';
import dcmjsDimse from 'dcmjs-dimse';
import type { Laterality, PlannedPatient, View } from './cohort-plan.js';

const { Dataset } = dcmjsDimse;

export const MG_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** Deterministic UID under the UUID-derived root 2.25 (PS3.5 §B.2), from the given parts. */
export function deterministicUid(...parts: (string | number)[]): string {
  const digest = createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 32);
  return `2.25.${BigInt(`0x${digest}`).toString()}`;
}

export interface MammogramFile {
  path: string;
  patient: PlannedPatient;
  visitIndex: number;
  laterality: Laterality;
  view: View;
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  pixels: Uint16Array;
  seed: number;
}

function ageAt(birth: string, on: string): string {
  const years = Number(on.slice(0, 4)) - Number(birth.slice(0, 4)) - (on.slice(4) < birth.slice(4) ? 1 : 0);
  return `${String(years).padStart(3, '0')}Y`;
}

/**
 * Digital Mammography X-Ray Image Storage – For Presentation, 14-bit MONOCHROME2, explicit VR
 * little endian. The patient data is synthetic but realistic in form, so de-identification has
 * names, ids, dates and free text to remove.
 */
export function mammogramDataset(f: Omit<MammogramFile, 'path'>): {
  dataset: InstanceType<typeof Dataset>;
  sopInstanceUid: string;
  studyInstanceUid: string;
} {
  const visit = f.patient.visits[f.visitIndex];
  if (!visit) throw new Error(`no visit ${f.visitIndex}`);
  const studyInstanceUid = deterministicUid(f.seed, f.patient.patientId, 'study', f.visitIndex);
  const sopInstanceUid = deterministicUid(f.seed, f.patient.patientId, 'image', f.visitIndex, f.laterality, f.view);
  const dataset = new Dataset(
    {
      SOPClassUID: MG_FOR_PRESENTATION,
      SOPInstanceUID: sopInstanceUid,
      StudyInstanceUID: studyInstanceUid,
      SeriesInstanceUID: deterministicUid(f.seed, f.patient.patientId, 'series', f.visitIndex, f.laterality, f.view),
      StudyDate: visit.studyDate,
      SeriesDate: visit.studyDate,
      ContentDate: visit.studyDate,
      StudyTime: '093000',
      AccessionNumber: `A${visit.studyDate}${String(f.patient.index).padStart(4, '0')}`,
      Modality: 'MG',
      Manufacturer: 'Vigil phantom generator',
      InstitutionName: 'Synthetic Breast Screening Centre',
      ReferringPhysicianName: 'PHANTOM^REFERRER',
      StudyDescription: `Screening mammography for ${f.patient.patientName.replace('^', ' ')}`,
      SeriesDescription: `${f.laterality} ${f.view}`,
      PatientName: f.patient.patientName,
      PatientID: f.patient.patientId,
      IssuerOfPatientID: 'VIGIL-PHANTOMS',
      PatientBirthDate: f.patient.birthDate,
      PatientSex: 'F',
      PatientAge: ageAt(f.patient.birthDate, visit.studyDate),
      BodyPartExamined: 'BREAST',
      ViewPosition: f.view,
      ImageLaterality: f.laterality,
      PresentationIntentType: 'FOR PRESENTATION',
      ImageType: ['ORIGINAL', 'PRIMARY'],
      BurnedInAnnotation: 'NO',
      BreastImplantPresent: 'NO',
      ImagerPixelSpacing: [f.pixelSpacingMm, f.pixelSpacingMm],
      SeriesNumber: 1,
      InstanceNumber: 1,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: f.rows,
      Columns: f.columns,
      BitsAllocated: 16,
      BitsStored: 14,
      HighBit: 13,
      PixelRepresentation: 0,
      WindowCenter: 6000,
      WindowWidth: 9000,
      RescaleIntercept: 0,
      RescaleSlope: 1,
      RescaleType: 'US',
      PixelData: [f.pixels.buffer.slice(f.pixels.byteOffset, f.pixels.byteOffset + f.pixels.byteLength)],
      _vrMap: { PixelData: 'OW' },
    },
    EXPLICIT_LE,
  );
  return { dataset, sopInstanceUid, studyInstanceUid };
}

export function writeMammogram(f: MammogramFile): Promise<{ sopInstanceUid: string; studyInstanceUid: string }> {
  const { dataset, sopInstanceUid, studyInstanceUid } = mammogramDataset(f);
  return new Promise((resolve, reject) =>
    dataset.toFile(f.path, (error) => (error ? reject(error) : resolve({ sopInstanceUid, studyInstanceUid }))),
  );
}
