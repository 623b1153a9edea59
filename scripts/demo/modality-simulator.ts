// A stand-in for a mammography unit in the demo: renders phantom studies with the project's
// phantom generator (synthetic patients, clearly fake) and sends them to an edge agent over real
// DICOM C-STORE with dcmjs-dimse's client.
import dcmjsDimse from 'dcmjs-dimse';
import { FOUR_VIEWS, type PlannedPatient } from '../phantoms/cohort-plan.js';
import { renderMammogram } from '../phantoms/render-mammogram.js';
import { mammogramDataset } from '../phantoms/write-dicom.js';

const { Client, requests, constants } = dcmjsDimse;
const { CStoreRequest } = requests;
const { Status } = constants;

/** Demo images are small (fast to render and send); the pixel pitch is scaled to keep anatomy in mm. */
const ROWS = 1024;
const COLUMNS = 832;
const SPACING_MM = 0.34;

const VIEWS = FOUR_VIEWS;

/** Sends one four-view study of `patient` at `visitIndex`; resolves with how many were stored. */
export function sendStudy(port: number, patient: PlannedPatient, visitIndex: number, seed: number): Promise<number> {
  const client = new Client();
  let stored = 0;
  for (const [laterality, view] of VIEWS) {
    const image = renderMammogram({
      patient,
      laterality,
      view,
      visitIndex,
      rows: ROWS,
      columns: COLUMNS,
      pixelSpacingMm: SPACING_MM,
      seed,
    });
    const { dataset } = mammogramDataset({
      patient,
      visitIndex,
      laterality,
      view,
      rows: ROWS,
      columns: COLUMNS,
      pixelSpacingMm: SPACING_MM,
      pixels: image.pixels,
      seed,
    });
    const request = new CStoreRequest(dataset);
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
