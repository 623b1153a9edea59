// A stand-in for a mammography unit in the demo: renders phantom studies with the project's
// phantom generator (synthetic patients, clearly fake) and sends them to an edge agent over real
// DICOM C-STORE with dcmjs-dimse's client. Rendering runs in a worker thread and each study is
// rendered once to a cache folder (studies repeat in the demo's loop), so the demo's main thread —
// which is also the hub's — only reads files and sends them: the hub's responsiveness in the demo
// is its own (review finding 8).
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { threadId } from 'node:worker_threads';
import { pseudonym } from '@vigil/shared';
import dcmjsDimse from 'dcmjs-dimse';
import { Piscina } from 'piscina';
import { FOUR_VIEWS, type PlannedPatient } from '../phantoms/cohort-plan.js';
import type { TruthFinding } from '../phantoms/generate-phantoms.js';
import { type ImageTruthFinding, type RenderedImage, renderMammogram } from '../phantoms/render-mammogram.js';
import { writeMammogram } from '../phantoms/write-dicom.js';

const { Client, Dataset, requests, constants } = dcmjsDimse;
const { CStoreRequest } = requests;
const { Status } = constants;

/** Demo images are small (fast to render and send); the pixel pitch is scaled to keep anatomy in mm. */
const ROWS = 1024;
const COLUMNS = 832;
const SPACING_MM = 0.34;

export interface StudyTask {
  patient: PlannedPatient;
  visitIndex: number;
  seed: number;
  /** Cache folder: a study already rendered there is not rendered again. */
  dir: string;
}

export interface RenderedStudy {
  paths: string[];
  /** How many of the four images had to be rendered (0 when the study was in the cache). */
  rendered: number;
  /** The thread that rendered them (the main thread is 0). */
  threadId: number;
}

/** What the demo knows about an image it sent (its phantom's ground truth). */
export interface DemoImageTruth {
  sopInstanceUid: string;
  laterality: string;
  view: string;
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  /** Phantom findings, or a real dataset's (with their severity: malignant stands for a proven cancer). */
  findings: (ImageTruthFinding | TruthFinding)[];
  lookalikes: RenderedImage['lookalikes'];
}

function truthFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...truthFiles(path));
    else if (entry.name.endsWith('.truth.json')) out.push(path);
  }
  return out;
}

/**
 * Every image the simulated modalities rendered under `cacheDir`, with its truth and visit index,
 * by the instance key its edge gives it (the pseudonym of its SOP Instance UID under `secret`).
 */
export function readDemoTruth(cacheDir: string, secret: string): Map<string, { truth: DemoImageTruth; visit: number }> {
  const byInstance = new Map<string, { truth: DemoImageTruth; visit: number }>();
  for (const file of truthFiles(cacheDir)) {
    // {cacheDir}/{patientId}/visit-{k}/{view}.dcm.truth.json
    const visit = Number(/visit-(\d+)/.exec(relative(cacheDir, file).split(sep)[1] ?? '')?.[1] ?? 0);
    const truth = JSON.parse(readFileSync(file, 'utf8')) as DemoImageTruth;
    byInstance.set(pseudonym(secret, 'instance', truth.sopInstanceUid), { truth, visit });
  }
  return byInstance;
}

/** Renders the four views of one study to DICOM files (once) and returns their paths; runs in a worker. */
export async function renderStudyFiles(t: StudyTask): Promise<RenderedStudy> {
  const paths: string[] = [];
  let rendered = 0;
  for (const [laterality, view] of FOUR_VIEWS) {
    const folder = join(t.dir, t.patient.patientId, `visit-${t.visitIndex}`);
    const path = join(folder, `${laterality}-${view}.dcm`);
    if (!existsSync(path)) {
      mkdirSync(folder, { recursive: true });
      const common = {
        patient: t.patient,
        laterality,
        view,
        visitIndex: t.visitIndex,
        rows: ROWS,
        columns: COLUMNS,
        pixelSpacingMm: SPACING_MM,
        seed: t.seed,
      };
      const image = renderMammogram(common);
      const written = await writeMammogram({ ...common, pixels: image.pixels, path: `${path}.tmp` });
      // The image's truth beside it (never sent): the demo simulates clinicians' verdicts from it.
      const truth: DemoImageTruth = {
        sopInstanceUid: written.sopInstanceUid,
        laterality,
        view,
        rows: ROWS,
        columns: COLUMNS,
        pixelSpacingMm: SPACING_MM,
        findings: image.findings,
        lookalikes: image.lookalikes,
      };
      writeFileSync(`${path}.truth.json`, JSON.stringify(truth));
      renameSync(`${path}.tmp`, path);
      rendered += 1;
    }
    paths.push(path);
  }
  return { paths, rendered, threadId };
}

function readDataset(path: string): Promise<InstanceType<typeof Dataset>> {
  return new Promise((resolve, reject) =>
    Dataset.fromFile(path, (error, dataset) => (error || !dataset ? reject(error ?? new Error(path)) : resolve(dataset))),
  );
}

/** The demo's modalities: one render worker shared by all, each study rendered once. */
export class SimulatedModalities {
  private readonly pool = new Piscina({ filename: new URL('./study-worker.mjs', import.meta.url).href, maxThreads: 1 });

  constructor(private readonly cacheDir: string) {}

  /** What the last study needed from the render worker (for tests). */
  lastRender: RenderedStudy | undefined;

  /** Sends one four-view study of `patient` at `visitIndex`; resolves with how many were stored. */
  async sendStudy(port: number, patient: PlannedPatient, visitIndex: number, seed: number): Promise<number> {
    const task: StudyTask = { patient, visitIndex, seed, dir: this.cacheDir };
    const render = (await this.pool.run(task)) as RenderedStudy;
    this.lastRender = render;
    return this.sendFiles(port, render.paths);
  }

  /** Sends files already made (a real dataset's study) over one association; resolves with how many were stored. */
  async sendFiles(port: number, paths: readonly string[]): Promise<number> {
    const render = { paths };
    const client = new Client();
    let stored = 0;
    for (const file of render.paths) {
      const request = new CStoreRequest(await readDataset(file));
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

  close(): Promise<void> {
    return this.pool.destroy();
  }
}
