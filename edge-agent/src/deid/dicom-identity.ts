import type { DataSet } from '../imaging/dicom-file.js';

/**
 * The identifying and temporal attributes the edge needs from an instance, read once. They go to
 * the de-identification step (which keeps only pseudonyms and dates) and to the clinic's own systems
 * (results in the PACS, the local re-identification index); never to the hub.
 */
export interface DicomIdentity {
  patientName: string;
  patientSex: string;
  accessionNumber: string;
  studyTime: string;
  studyId: string;
  referringPhysicianName: string;
  sopClassUid: string;
  patientId: string;
  issuerOfPatientId: string;
  birthDate: string;
  patientAge: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  studyDate: string;
  seriesDate: string;
  contentDate: string;
  modality: string;
  imageLaterality: string;
  laterality: string;
  viewPosition: string;
  burnedInAnnotation: string;
}

const text = (dataSet: DataSet, tag: string): string => (dataSet.string(tag) ?? '').trim();

export function readDicomIdentity(dataSet: DataSet): DicomIdentity {
  return {
    patientName: text(dataSet, 'x00100010'),
    patientSex: text(dataSet, 'x00100040'),
    accessionNumber: text(dataSet, 'x00080050'),
    studyTime: text(dataSet, 'x00080030'),
    studyId: text(dataSet, 'x00200010'),
    referringPhysicianName: text(dataSet, 'x00080090'),
    sopClassUid: text(dataSet, 'x00080016'),
    patientId: text(dataSet, 'x00100020'),
    issuerOfPatientId: text(dataSet, 'x00100021'),
    birthDate: text(dataSet, 'x00100030'),
    patientAge: text(dataSet, 'x00101010'),
    studyInstanceUid: text(dataSet, 'x0020000d'),
    seriesInstanceUid: text(dataSet, 'x0020000e'),
    sopInstanceUid: text(dataSet, 'x00080018'),
    studyDate: text(dataSet, 'x00080020'),
    seriesDate: text(dataSet, 'x00080021'),
    contentDate: text(dataSet, 'x00080023'),
    modality: text(dataSet, 'x00080060'),
    imageLaterality: text(dataSet, 'x00200062'),
    laterality: text(dataSet, 'x00200060'),
    viewPosition: text(dataSet, 'x00185101'),
    burnedInAnnotation: text(dataSet, 'x00280301'),
  };
}
