import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';
import { FOUR_VIEWS, type Laterality, type PlannedPatient, planCohort, type View } from './cohort-plan.js';
import { deriveSeed, Rng } from './random.js';
import { type ImageTruthFinding, renderMammogram } from './render-mammogram.js';
import { writeMammogram } from './write-dicom.js';

export const GENERATOR_VERSION = '2.1.0';

export interface PhantomOptions {
  out: string;
  patients: number;
  visits: number;
  seed: number;
  rows: number;
  columns: number;
  /**
   * Render one visit per patient, chosen by the seed, out of `visits` planned ones (for training):
   * lesions then come at every size they reach over a follow-up, growing masses up to 50 mm and
   * more, where a one-visit plan only has baseline sizes (at most 22 mm).
   */
  oneVisitPerPatient?: boolean;
  onProgress?: (done: number, total: number) => void;
}

/** A lesion on an image: a phantom's (its three types), or a real dataset's (more types, a severity). */
export interface TruthFinding extends Omit<ImageTruthFinding, 'type'> {
  type: string;
  severity?: 'B' | 'M' | 'U';
}

export interface TruthImage {
  file: string;
  sopInstanceUid: string;
  laterality: Laterality;
  view: View;
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  findings: TruthFinding[];
  lookalikes: { id: string; x: number; y: number; diameterMm: number }[];
  /** Lesions a real dataset names for the image without a position (they make it abnormal, nothing more). */
  unlocated?: string[];
  /** Where a real image came from (datasets: scripts/datasets). */
  source?: { dataset: string; id: string; acquisition: 'film' | 'digital'; spacingEstimated: boolean };
}

export interface Truth {
  generator: string;
  version: string;
  seed: number;
  /** Set when one visit per patient was rendered out of this many planned. */
  oneVisitOf?: number;
  patients: {
    patientId: string;
    density: string;
    findings: { id: string; type: string; laterality: Laterality; behaviour: string; growthMmPerMonth: number }[];
    visits: { index: number; studyDate: string; monthsFromBaseline: number; studyInstanceUid: string; images: TruthImage[] }[];
  }[];
}

const VIEWS = FOUR_VIEWS;

/** Writes the DICOM files and truth.json for a reproducible longitudinal phantom cohort. */
export async function generatePhantoms(o: PhantomOptions): Promise<Truth> {
  const cohort = planCohort(o.seed, o.patients, o.visits);
  const truth: Truth = {
    generator: 'vigil-phantoms',
    version: GENERATOR_VERSION,
    seed: o.seed,
    ...(o.oneVisitPerPatient ? { oneVisitOf: o.visits } : {}),
    patients: [],
  };
  const rendered = o.oneVisitPerPatient ? 1 : o.visits;
  const total = o.patients * rendered * VIEWS.length;
  let done = 0;
  // Patients render in worker threads, one per core: each is independent and deterministic.
  const pool = new Piscina({
    filename: new URL('./render-worker.mjs', import.meta.url).href,
    maxThreads: Math.max(1, Math.min(availableParallelism(), o.patients)),
  });
  try {
    truth.patients = await Promise.all(
      cohort.map(async (patient) => {
        const visit = new Rng(deriveSeed(o.seed, 'rendered-visit', patient.index)).int(0, o.visits - 1);
        const task: PatientTask = {
          patient,
          seed: o.seed,
          rows: o.rows,
          columns: o.columns,
          out: o.out,
          ...(o.oneVisitPerPatient ? { onlyVisit: visit } : {}),
        };
        const entry = (await pool.run(task)) as Truth['patients'][number];
        done += rendered * VIEWS.length;
        o.onProgress?.(done, total);
        return entry;
      }),
    );
  } finally {
    await pool.destroy();
  }
  writeFileSync(join(o.out, 'truth.json'), `${JSON.stringify(truth, null, 2)}\n`);
  return truth;
}

export interface PatientTask {
  patient: PlannedPatient;
  seed: number;
  rows: number;
  columns: number;
  out: string;
  /** Render only this visit (the plan keeps every visit: sizes depend on the dates). */
  onlyVisit?: number;
}

/** Renders and writes every image of one planned patient; returns the patient's truth entry. */
export async function renderPatient(t: PatientTask): Promise<Truth['patients'][number]> {
  const { patient } = t;
  // Detector pixel pitch differs between units: 0.07–0.1 mm (per patient, i.e. per clinic unit).
  // A smaller matrix than 3328 columns gets a proportionally coarser pitch: the same anatomy in mm.
  const pitch = new Rng(deriveSeed(t.seed, 'spacing', patient.index)).pick([0.07, 0.085, 0.1]);
  const pixelSpacingMm = Math.round(pitch * Math.max(1, 3328 / t.columns) * 1e4) / 1e4;
  const entry: Truth['patients'][number] = {
    patientId: patient.patientId,
    density: patient.density,
    findings: patient.findings.map((f) => ({
      id: f.id,
      type: f.type,
      laterality: f.laterality,
      behaviour: f.behaviour,
      growthMmPerMonth: Math.round(f.growthMmPerMonth * 1000) / 1000,
    })),
    visits: [],
  };
  for (const visit of patient.visits) {
    if (t.onlyVisit !== undefined && visit.index !== t.onlyVisit) continue;
    mkdirSync(join(t.out, patient.patientId, `visit-${visit.index}`), { recursive: true });
    const images: TruthImage[] = [];
    let studyInstanceUid = '';
    for (const [laterality, view] of VIEWS) {
      const common = {
        patient,
        laterality,
        view,
        visitIndex: visit.index,
        rows: t.rows,
        columns: t.columns,
        pixelSpacingMm,
        seed: t.seed,
      };
      const rendered = renderMammogram(common);
      const file = join(patient.patientId, `visit-${visit.index}`, `${laterality}_${view}.dcm`);
      const written = await writeMammogram({ ...common, path: join(t.out, file), pixels: rendered.pixels });
      studyInstanceUid = written.studyInstanceUid;
      images.push({
        file,
        sopInstanceUid: written.sopInstanceUid,
        laterality,
        view,
        rows: t.rows,
        columns: t.columns,
        pixelSpacingMm,
        findings: rendered.findings,
        lookalikes: rendered.lookalikes,
      });
    }
    entry.visits.push({
      index: visit.index,
      studyDate: visit.studyDate,
      monthsFromBaseline: Math.round(visit.monthsFromBaseline * 100) / 100,
      studyInstanceUid,
      images,
    });
  }
  return entry;
}

/** truth.json of a phantom set, with every image flattened (and its patient id). */
export function readTruth(dir: string): { truth: Truth; images: (TruthImage & { patientId: string })[] } {
  const truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8')) as Truth;
  const images = truth.patients.flatMap((p) => p.visits.flatMap((v) => v.images.map((i) => ({ ...i, patientId: p.patientId }))));
  return { truth, images };
}
