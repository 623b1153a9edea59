import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import dcmjsDimse from 'dcmjs-dimse';
import type { Truth, TruthImage } from '../phantoms/generate-phantoms.js';
import { deterministicUid, MG_FOR_PRESENTATION } from '../phantoms/write-dicom.js';
import { chestWallSide, mammogramOrientation } from './chest-wall.js';
import type { DatasetAdapter, SourceImage, SourceWoman } from './dataset-types.js';

const { Dataset } = dcmjsDimse;
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
/** The converted cohorts' one study date (the datasets carry none): a real study date, fixed. */
const STUDY_DATE = '20190603';

/**
 * One real image as the DICOM MG object a modality (or a film digitiser) would send: Digital
 * Mammography For Presentation, MONOCHROME2 at the source's bit depth, pixel spacing, view and
 * laterality, the woman as patient and one study per woman; film scans marked as such (detector
 * FILM, burned-in annotation YES). The edge's intake, decoding and preprocessing then take it as
 * they take any modality's image.
 */
export function realMammogramDataset(o: {
  dataset: string;
  woman: SourceWoman;
  image: SourceImage;
  studyInstanceUid: string;
  sopInstanceUid: string;
}): InstanceType<typeof Dataset> {
  const { image } = o;
  const eight = image.pixels instanceof Uint8Array;
  const max = 2 ** image.bitsStored - 1;
  return new Dataset(
    {
      SOPClassUID: MG_FOR_PRESENTATION,
      SOPInstanceUID: o.sopInstanceUid,
      StudyInstanceUID: o.studyInstanceUid,
      SeriesInstanceUID: deterministicUid(o.dataset, o.woman.womanId, 'series', image.laterality, image.view),
      StudyDate: STUDY_DATE,
      SeriesDate: STUDY_DATE,
      ContentDate: STUDY_DATE,
      StudyTime: '100000',
      AccessionNumber: `${o.dataset}-${o.woman.womanId}`.slice(0, 16),
      Modality: 'MG',
      Manufacturer: `${o.dataset} (${image.acquisition === 'film' ? 'digitised film' : 'digital detector'})`,
      InstitutionName: 'Public dataset',
      ReferringPhysicianName: '',
      StudyDescription: 'Mammography',
      SeriesDescription: `${image.laterality} ${image.view}`,
      PatientName: `${o.dataset.toUpperCase()}^${o.woman.womanId}`,
      PatientID: o.woman.womanId,
      IssuerOfPatientID: o.dataset.toUpperCase(),
      PatientBirthDate: '',
      PatientSex: 'F',
      StudyID: '1',
      BodyPartExamined: 'BREAST',
      AnatomicRegionSequence: [{ CodeValue: '76752008', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Breast' }],
      PatientOrientation: mammogramOrientation(
        image.laterality,
        image.view,
        chestWallSide(image.pixels, image.rows, image.columns, max),
      ),
      PositionerType: 'MAMMOGRAPHIC',
      OrganExposed: 'BREAST',
      ViewCodeSequence: [
        image.view === 'MLO'
          ? { CodeValue: '399368009', CodingSchemeDesignator: 'SCT', CodeMeaning: 'medio-lateral oblique' }
          : { CodeValue: '399162004', CodingSchemeDesignator: 'SCT', CodeMeaning: 'cranio-caudal' },
      ],
      ViewModifierCodeSequence: [],
      AcquisitionContextSequence: [],
      ViewPosition: image.view,
      ImageLaterality: image.laterality,
      PresentationIntentType: 'FOR PRESENTATION',
      ImageType: image.acquisition === 'film' ? ['DERIVED', 'PRIMARY'] : ['ORIGINAL', 'PRIMARY'],
      DetectorType: image.acquisition === 'film' ? 'FILM' : 'DIRECT',
      BurnedInAnnotation: image.burnedInAnnotation ? 'YES' : 'NO',
      BreastImplantPresent: 'NO',
      PixelSpacing: [image.pixelSpacingMm, image.pixelSpacingMm],
      ImagerPixelSpacing: [image.pixelSpacingMm, image.pixelSpacingMm],
      SeriesNumber: 1,
      InstanceNumber: 1,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: image.rows,
      Columns: image.columns,
      BitsAllocated: eight ? 8 : 16,
      BitsStored: image.bitsStored,
      HighBit: image.bitsStored - 1,
      PixelRepresentation: 0,
      PixelIntensityRelationship: image.acquisition === 'film' ? 'LOG' : 'LIN',
      PixelIntensityRelationshipSign: 1,
      RescaleIntercept: 0,
      RescaleSlope: 1,
      RescaleType: 'US',
      PresentationLUTShape: 'IDENTITY',
      LossyImageCompression: image.lossy ? '01' : '00',
      ...(image.lossy ? { LossyImageCompressionMethod: 'ISO_10918_1' } : {}),
      WindowCenter: Math.round(max / 2),
      WindowWidth: max + 1,
      PixelData: [image.pixels.buffer.slice(image.pixels.byteOffset, image.pixels.byteOffset + image.pixels.byteLength)],
      _vrMap: { PixelData: eight ? 'OB' : 'OW' },
    },
    EXPLICIT_LE,
  );
}

function truthImage(dataset: string, image: SourceImage, file: string, sopInstanceUid: string): TruthImage {
  const s = image.pixelSpacingMm;
  return {
    file,
    sopInstanceUid,
    laterality: image.laterality,
    view: image.view,
    rows: image.rows,
    columns: image.columns,
    pixelSpacingMm: s,
    findings: image.lesions.map((l, k) => {
      const diameterMm = Math.round(l.diameterPx * s * 100) / 100;
      return {
        id: `${image.id}-${k + 1}`,
        type: l.type,
        behaviour: 'stable',
        severity: l.severity,
        x: l.xPx / image.columns,
        y: l.yPx / image.rows,
        diameterMm,
        areaMm2: Math.round(Math.PI * (diameterMm / 2) ** 2 * 100) / 100,
      };
    }),
    lookalikes: [],
    ...(image.unlocated.length > 0 ? { unlocated: image.unlocated } : {}),
    source: { dataset, id: image.id, acquisition: image.acquisition, spacingEstimated: image.spacingEstimated },
  };
}

/**
 * Converts a dataset (all of it, or some women) into a cohort folder: one DICOM file per image under
 * its woman, and `truth.json` in the phantoms' format (one visit per woman), with the dataset's
 * provenance. Pixels are read from the dataset and written to `out`, which must not be inside the
 * repository (the datasets' licences: read them from ../shared at training and test time).
 */
export async function convertDataset(o: {
  adapter: DatasetAdapter;
  from: string;
  out: string;
  onlyWomen?: ReadonlySet<string>;
  onProgress?: (women: number, images: number) => void;
}): Promise<Truth & { dataset: { name: string; citation: string; licence: string } }> {
  mkdirSync(o.out, { recursive: true });
  const name = o.adapter.name;
  const truth: Truth & { dataset: { name: string; citation: string; licence: string } } = {
    generator: `vigil-datasets/${name}`,
    version: '1.0.0',
    seed: 0,
    dataset: { name, ...o.adapter.provenance },
    patients: [],
  };
  let images = 0;
  for await (const woman of o.adapter.read(o.from, o.onlyWomen ? { onlyWomen: o.onlyWomen } : {})) {
    const studyInstanceUid = deterministicUid(name, woman.womanId, 'study');
    mkdirSync(join(o.out, woman.womanId), { recursive: true });
    const written: TruthImage[] = [];
    for (const image of woman.images) {
      const sopInstanceUid = deterministicUid(name, woman.womanId, 'image', image.id);
      const file = `${woman.womanId}/${image.id}.dcm`;
      const ds = realMammogramDataset({ dataset: name, woman, image, studyInstanceUid, sopInstanceUid });
      await new Promise<void>((resolve, reject) => ds.toFile(join(o.out, file), (e) => (e ? reject(e) : resolve())));
      written.push(truthImage(name, image, file, sopInstanceUid));
      images += 1;
    }
    truth.patients.push({
      patientId: woman.womanId,
      density: woman.images[0]?.density ?? '',
      findings: [],
      visits: [{ index: 0, studyDate: STUDY_DATE, monthsFromBaseline: 0, studyInstanceUid, images: written }],
    });
    o.onProgress?.(truth.patients.length, images);
  }
  writeFileSync(join(o.out, 'truth.json'), `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}
