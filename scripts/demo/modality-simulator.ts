// A stand-in for a mammography unit in the demo: builds small synthetic MG images (with fake,
// clearly-labelled demo patient data, so de-identification has something to remove) and sends
// them to an edge agent over real DICOM C-STORE with dcmjs-dimse's client.
import { randomUUID } from 'node:crypto';
import dcmjsDimse from 'dcmjs-dimse';

const { Client, Dataset, requests, constants } = dcmjsDimse;
const { CStoreRequest } = requests;
const { Status } = constants;

const MG_FOR_PRESENTATION = '1.2.840.10008.5.1.4.1.1.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';

/** A DICOM UID from a random UUID (PS3.5 §B.2: the 2.25 root). */
function uid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

export interface DemoPatient {
  name: string;
  id: string;
  birthDate: string;
}

/** 14-bit breast-like image: a half-disc of tissue with a brighter blob, on a dark background. */
function pixels(rows: number, cols: number, laterality: 'L' | 'R', seed: number): ArrayBuffer {
  const data = new Uint16Array(rows * cols);
  const blobX = 0.3 + ((seed * 37) % 40) / 100;
  const blobY = 0.3 + ((seed * 53) % 40) / 100;
  for (let y = 0; y < rows; y++) {
    for (let x = 0; x < cols; x++) {
      const nx = laterality === 'L' ? x / cols : 1 - x / cols;
      const ny = (y - rows / 2) / (rows / 2);
      const inside = nx * nx + ny * ny * 0.55 < 0.8;
      let v = inside ? 6000 + 2500 * (1 - nx) + ((x * 7 + y * 13 + seed) % 200) : 120;
      const d = Math.hypot(x / cols - blobX, y / rows - blobY);
      if (inside && d < 0.05) v += 3000 * (1 - d / 0.05);
      data[y * cols + x] = Math.min(16383, Math.round(v));
    }
  }
  return data.buffer;
}

export function syntheticMammogram(
  patient: DemoPatient,
  study: { uid: string; date: string },
  laterality: 'L' | 'R',
  view: 'CC' | 'MLO',
  seed: number,
) {
  const rows = 320;
  const cols = 256;
  return new Dataset(
    {
      SOPClassUID: MG_FOR_PRESENTATION,
      SOPInstanceUID: uid(),
      StudyInstanceUID: study.uid,
      SeriesInstanceUID: uid(),
      StudyDate: study.date,
      Modality: 'MG',
      PatientName: patient.name,
      PatientID: patient.id,
      PatientBirthDate: patient.birthDate,
      InstitutionName: 'Vigil Demo Clinic (synthetic)',
      ImageLaterality: laterality,
      ViewPosition: view,
      PresentationIntentType: 'FOR PRESENTATION',
      ImagerPixelSpacing: [0.085, 0.085],
      Rows: rows,
      Columns: cols,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 14,
      HighBit: 13,
      PixelRepresentation: 0,
      PixelData: [pixels(rows, cols, laterality, seed)],
      _vrMap: { PixelData: 'OW' },
    },
    EXPLICIT_LE,
  );
}

/** Sends one four-view screening study (L/R × CC/MLO); resolves with how many were stored. */
export function sendStudy(port: number, patient: DemoPatient, date: string, seed: number): Promise<number> {
  const study = { uid: uid(), date };
  const client = new Client();
  let stored = 0;
  for (const [laterality, view] of [
    ['L', 'CC'],
    ['L', 'MLO'],
    ['R', 'CC'],
    ['R', 'MLO'],
  ] as const) {
    const request = new CStoreRequest(syntheticMammogram(patient, study, laterality, view, seed));
    request.on('response', (response: { getStatus(): number }) => {
      if (response.getStatus() === Status.Success) stored += 1;
    });
    client.addRequest(request);
  }
  return new Promise((resolve, reject) => {
    client.on('networkError', (error: Error) => reject(error));
    client.on('closed', () => resolve(stored));
    client.send('127.0.0.1', port, 'DEMO_MG', 'VIGIL');
  });
}
