import { createHash, randomUUID } from 'node:crypto';
import type { Finding } from '@vigil/shared';
import type { DicomIdentity } from '../deid/dicom-identity.js';
import {
  type Code,
  code,
  codeItem,
  container,
  type ImageReference,
  type Item,
  imageItem,
  numItem,
  scoordItem,
  textItem,
  uidItem,
} from './sr-content.js';

export const COMPREHENSIVE_3D_SR = '1.2.840.10008.5.1.4.1.1.88.34';

/** A UID from the 2.25 arc (ISO/IEC 9834-8): a UUID, or a digest of `parts` (the same parts, the same UID). */
export function derivedUid(...parts: string[]): string {
  const hex =
    parts.length === 0
      ? randomUUID().replace(/-/g, '')
      : createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32);
  // A UUID variant/version pattern is not required for 2.25; the digest's 128 bits are unique enough.
  return `2.25.${BigInt(`0x${hex}`).toString()}`;
}

/** The Patient and General Study modules of an object about the study these images belong to. */
export function patientAndStudy(study: DicomIdentity): Record<string, unknown> {
  return {
    PatientName: study.patientName ? [{ Alphabetic: study.patientName }] : [],
    PatientID: study.patientId,
    ...(study.issuerOfPatientId ? { IssuerOfPatientID: study.issuerOfPatientId } : {}),
    PatientBirthDate: study.birthDate,
    PatientSex: study.patientSex,
    StudyInstanceUID: study.studyInstanceUid,
    StudyDate: study.studyDate,
    StudyTime: study.studyTime,
    ReferringPhysicianName: study.referringPhysicianName ? [{ Alphabetic: study.referringPhysicianName }] : [],
    StudyID: study.studyId,
    AccessionNumber: study.accessionNumber,
  };
}

/** One analysed image of the study, with its real identity (the SR goes only to the clinic's PACS). */
export interface ReportedImage {
  identity: DicomIdentity;
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  laterality: 'L' | 'R' | 'U';
  view: string;
  score: number;
  findings: readonly Finding[];
  /** The result's id (for deterministic tracking UIDs). */
  resultId: string;
  /** The model that analysed the image, and its intended-use statement from the manifest. */
  model: { name: string; version: string; intendedUse?: string };
}

export interface ReportOptions {
  images: readonly ReportedImage[];
  model: { name: string; version: string; manufacturer: string; intendedUse?: string };
  /** The edge as the observing device (TID 1004). */
  device: { uid: string; name: string; manufacturer: string; modelName: string; serialNumber: string; softwareVersion: string };
  sopInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber: number;
  instanceNumber: number;
  contentDateTime: Date;
}

const DCM = (value: string, meaning: string) => code(value, 'DCM', meaning);
const SCT = (value: string, meaning: string) => code(value, 'SCT', meaning);
const UCUM = (value: string, meaning: string) => code(value, 'UCUM', meaning);

const LATERALITY: Record<'L' | 'R', Code> = { L: SCT('7771000', 'Left'), R: SCT('24028007', 'Right') };

const da = (d: Date) => d.toISOString().slice(0, 10).replace(/-/g, '');
const tm = (d: Date) => d.toISOString().slice(11, 19).replace(/:/g, '');

function algorithm(model: ReportOptions['model']): Item[] {
  return [
    textItem('HAS CONCEPT MOD', DCM('111001', 'Algorithm Name'), model.name),
    textItem('HAS CONCEPT MOD', DCM('111003', 'Algorithm Version'), model.version),
  ];
}

const ref = (i: ReportedImage): ImageReference => ({
  sopClassUid: i.identity.sopClassUid,
  sopInstanceUid: i.identity.sopInstanceUid,
});

/** One TID 1410 measurement group per finding, numbered across the study's images. */
function measurementGroups(o: ReportOptions): Item[] {
  const groups: Item[] = [];
  let n = 0;
  for (const image of o.images) {
    for (const [k, f] of image.findings.entries()) {
      n += 1;
      const cx = f.x * image.columns;
      const cy = f.y * image.rows;
      const radiusPx = Math.max(1, f.diameterMm / 2 / image.pixelSpacingMm);
      const site =
        image.laterality === 'U'
          ? codeItem('HAS CONCEPT MOD', SCT('363698007', 'Finding Site'), SCT('76752008', 'Breast'))
          : codeItem('HAS CONCEPT MOD', SCT('363698007', 'Finding Site'), SCT('76752008', 'Breast'), [
              codeItem('HAS CONCEPT MOD', SCT('272741003', 'Laterality'), LATERALITY[image.laterality]),
            ]);
      groups.push(
        container(
          'CONTAINS',
          DCM('125007', 'Measurement Group'),
          [
            textItem('HAS OBS CONTEXT', DCM('112039', 'Tracking Identifier'), `Finding ${n} (${image.laterality} ${image.view})`),
            uidItem(
              'HAS OBS CONTEXT',
              DCM('112040', 'Tracking Unique Identifier'),
              derivedUid('finding', image.resultId, String(k)),
            ),
            codeItem('CONTAINS', DCM('121071', 'Finding'), SCT('4147007', 'Mass')),
            site,
            scoordItem(
              'CONTAINS',
              DCM('111030', 'Image Region'),
              'CIRCLE',
              [cx, cy, cx + radiusPx, cy].map((v) => Math.round(v * 100) / 100),
              ref(image),
            ),
            numItem('CONTAINS', SCT('81827009', 'Diameter'), f.diameterMm, UCUM('mm', 'mm'), algorithm(o.model)),
            numItem('CONTAINS', SCT('42798000', 'Area'), f.areaMm2, UCUM('mm2', 'mm2'), algorithm(o.model)),
            numItem('CONTAINS', DCM('111047', 'Probability of cancer'), f.score, UCUM('1', 'no units'), algorithm(o.model)),
          ],
          '1410',
        ),
      );
    }
  }
  return groups;
}

/**
 * A TID 1500 Measurement Report for one study, as a Comprehensive 3D SR (IHE AI Results): the device
 * as observer, the image library, one TID 1410 measurement group per finding (tracking identifier
 * and UID, finding type and site, the region as a circle on the source image, diameter, area and the
 * model's score, each with the algorithm's identification), and the image-level scores and the
 * model's intended-use note as qualitative evaluations. Patient and study attributes are copied from
 * the analysed images: this object carries the patient's identity and goes only to the clinic's PACS.
 */
export function buildMeasurementReport(o: ReportOptions): Record<string, unknown> {
  const first = o.images[0];
  if (!first) throw new Error('a measurement report needs at least one image');
  const study = first.identity;
  const groups = measurementGroups(o);

  const evaluations: Item[] = o.images.map((i) =>
    textItem(
      'CONTAINS',
      DCM('111047', 'Probability of cancer'),
      `${i.laterality} ${i.view}: model score ${i.score.toFixed(3)} (${i.findings.length} finding${i.findings.length === 1 ? '' : 's'})`,
    ),
  );
  if (o.model.intendedUse) evaluations.push(textItem('CONTAINS', DCM('121106', 'Comment'), o.model.intendedUse));

  const root = container(
    undefined,
    DCM('126000', 'Imaging Measurement Report'),
    [
      codeItem('HAS CONCEPT MOD', DCM('121049', 'Language of Content Item and Descendants'), code('en', 'RFC5646', 'English')),
      codeItem('HAS OBS CONTEXT', DCM('121005', 'Observer Type'), DCM('121007', 'Device')),
      uidItem('HAS OBS CONTEXT', DCM('121012', 'Device Observer UID'), o.device.uid),
      textItem('HAS OBS CONTEXT', DCM('121013', 'Device Observer Name'), o.device.name),
      textItem('HAS OBS CONTEXT', DCM('121014', 'Device Observer Manufacturer'), o.device.manufacturer),
      textItem('HAS OBS CONTEXT', DCM('121015', 'Device Observer Model Name'), o.device.modelName),
      // CID 100 (Quantitative Diagnostic Imaging Procedures) has no mammography entry; its generic one.
      codeItem('HAS CONCEPT MOD', DCM('121058', 'Procedure reported'), SCT('363679005', 'Imaging procedure')),
      container('CONTAINS', DCM('111028', 'Image Library'), [
        container(
          'CONTAINS',
          DCM('126200', 'Image Library Group'),
          o.images.map((i) => imageItem('CONTAINS', ref(i))),
        ),
      ]),
      container('CONTAINS', DCM('126010', 'Imaging Measurements'), groups),
      container('CONTAINS', code('C0034375', 'UMLS', 'Qualitative Evaluations'), evaluations),
    ],
    '1500',
  );

  const series = new Map<string, ImageReference[]>();
  for (const i of o.images)
    series.set(i.identity.seriesInstanceUid, [...(series.get(i.identity.seriesInstanceUid) ?? []), ref(i)]);

  return {
    SpecificCharacterSet: 'ISO_IR 192',
    SOPClassUID: COMPREHENSIVE_3D_SR,
    SOPInstanceUID: o.sopInstanceUid,
    // Patient and General Study modules: the analysed images' own.
    ...patientAndStudy(study),
    // SR Document Series.
    Modality: 'SR',
    SeriesInstanceUID: o.seriesInstanceUid,
    SeriesNumber: o.seriesNumber,
    SeriesDescription: `AI results: ${o.model.name} ${o.model.version}`,
    SeriesDate: da(o.contentDateTime),
    SeriesTime: tm(o.contentDateTime),
    ReferencedPerformedProcedureStepSequence: [],
    // General and Enhanced General Equipment.
    Manufacturer: o.device.manufacturer,
    ManufacturerModelName: o.device.modelName,
    DeviceSerialNumber: o.device.serialNumber,
    SoftwareVersions: o.device.softwareVersion,
    // SR Document General.
    InstanceNumber: o.instanceNumber,
    ContentDate: da(o.contentDateTime),
    ContentTime: tm(o.contentDateTime),
    InstanceCreationDate: da(o.contentDateTime),
    InstanceCreationTime: tm(o.contentDateTime),
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    PreliminaryFlag: 'FINAL',
    PerformedProcedureCodeSequence: [],
    CurrentRequestedProcedureEvidenceSequence: [
      {
        StudyInstanceUID: study.studyInstanceUid,
        ReferencedSeriesSequence: [...series].map(([uid, refs]) => ({
          SeriesInstanceUID: uid,
          ReferencedSOPSequence: refs.map((r) => ({
            ReferencedSOPClassUID: r.sopClassUid,
            ReferencedSOPInstanceUID: r.sopInstanceUid,
          })),
        })),
      },
    ],
    // SR Document Content: the root container.
    ...root,
  };
}
