// The demo's modalities on a real dataset (`npm run demo -- --dataset DIR`): the dataset adapter converts
// its images into DICOM MG (once per run, into a folder outside the repository: the datasets' licences do
// not allow copies in it) and lays them out as the simulated modalities' cache does — one study per woman,
// each image's truth beside it — so the feedback loop simulates clinicians' verdicts from the dataset's
// own truth, exactly as it does from the phantoms'.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { adapterFor } from '../datasets/adapters.js';
import { convertDataset } from '../datasets/write-cohort.js';
import type { DemoImageTruth } from './modality-simulator.js';

/** One woman's study, ready to send: its files in the modality cache's layout. */
export interface DatasetStudy {
  patientId: string;
  paths: string[];
}

/** Converts the dataset at `from` and returns its studies (at most `limit` women) in `cacheDir`'s layout. */
export async function prepareDatasetStudies(
  from: string,
  workDir: string,
  cacheDir: string,
  limit: number,
): Promise<DatasetStudy[]> {
  const adapter = adapterFor(from);
  if (!adapter) throw new Error(`no dataset adapter recognises ${from} (npm run datasets -- list)`);
  const women = (await adapter.women(from)).slice(0, limit);
  const converted = join(workDir, 'converted');
  const truth = await convertDataset({ adapter, from, out: converted, onlyWomen: new Set(women) });
  const studies: DatasetStudy[] = [];
  for (const patient of truth.patients) {
    const paths: string[] = [];
    for (const visit of patient.visits)
      for (const image of visit.images) {
        const folder = join(cacheDir, patient.patientId, `visit-${visit.index}`);
        mkdirSync(folder, { recursive: true });
        const path = join(folder, `${image.laterality}-${image.view}-${paths.length}.dcm`);
        symlinkSync(resolve(converted, image.file), path);
        const demoTruth: DemoImageTruth = {
          sopInstanceUid: image.sopInstanceUid,
          laterality: image.laterality,
          view: image.view,
          rows: image.rows,
          columns: image.columns,
          pixelSpacingMm: image.pixelSpacingMm,
          findings: image.findings,
          lookalikes: image.lookalikes,
        };
        writeFileSync(`${path}.truth.json`, JSON.stringify(demoTruth));
        paths.push(path);
      }
    if (paths.length > 0) studies.push({ patientId: patient.patientId, paths });
  }
  return studies;
}
