// The demo's feedback loop (issue 16): clinicians' verdicts, simulated from the phantoms' truth for
// a few studies, go to the hub; the hub reports real-world performance; each clinic's edge fetches
// its own labels and assembles a training set from the model inputs it kept (images never leave the
// clinic); the model is fine-tuned on the three sets and the new version is signed and published,
// ready for a shadow rollout that the verdict-agreement gate will judge.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { computePerformance, type Hub, type VerdictInput, VerdictService } from '@vigil/cloud-hub';
import { assembleTrainingSet, fetchLabels, passwordHttp, TrainingInputStore } from '@vigil/edge-agent';
import { VISIBLE_LESION_MM, verdictsFromTruth } from '../evaluate/simulated-verdicts.js';
import { packAndSign, phantomImages } from '../harness/model-packages.js';
import { type DemoImageTruth, readDemoTruth } from './modality-simulator.js';

const execFileAsync = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '../..');

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(0)} %`);

export interface FeedbackOptions {
  hub: Hub;
  httpUrl: string;
  /** Where the simulated modalities rendered their studies (with each image's truth beside it). */
  cacheDir: string;
  secret: string;
  devices: { deviceId: string; password: string; dataDir: string }[];
  modelDir: string;
  version: string;
  privateKeyPem: string;
  workDir: string;
  /** How many studies a "clinician" reviews. */
  studies: number;
  /** Fine-tune, sign and publish a model from the sets (off: stop once the sets are assembled). */
  train: boolean;
  write: (line: string) => void;
}

export async function runFeedbackLoop(o: FeedbackOptions): Promise<void> {
  const truthByInstance = new Map([...readDemoTruth(o.cacheDir, o.secret)].map(([key, { truth }]) => [key, truth]));
  const results = (await o.hub.state.queryResults({ limit: 500 })).items.filter((r) => truthByInstance.has(r.instanceKey));
  const studies = [...new Set(results.map((r) => r.studyKey))].slice(0, o.studies);
  const inputs: VerdictInput[] = [];
  for (const studyKey of studies) {
    const images = results.filter((r) => r.studyKey === studyKey);
    const first = images[0];
    if (!first) continue;
    let suspicious = false;
    for (const r of images) {
      const truth = truthByInstance.get(r.instanceKey) as DemoImageTruth;
      inputs.push(...verdictsFromTruth(truth, r).inputs);
      if (truth.findings.some((t) => t.diameterMm >= VISIBLE_LESION_MM)) suspicious = true;
    }
    inputs.push({ kind: 'assessment', patientKey: first.patientKey, studyKey, birads: suspicious ? 4 : 1 });
    // A growing mass stands in for a biopsy-proven cancer in the synthetic world; a real dataset's
    // malignant finding is one.
    const cancerSides = new Set(
      images.flatMap((r) => {
        const t = truthByInstance.get(r.instanceKey) as DemoImageTruth;
        const cancer = (f: DemoImageTruth['findings'][number]) =>
          ('severity' in f && f.severity === 'M') || ('behaviour' in f && f.behaviour === 'growing' && f.diameterMm >= 5);
        return t.findings.some(cancer) ? [r.laterality] : [];
      }),
    );
    for (const side of cancerSides) {
      if (side === 'L' || side === 'R')
        inputs.push({ kind: 'outcome', patientKey: first.patientKey, studyKey, outcome: 'malignant', laterality: side });
    }
  }
  const verdicts = await new VerdictService(o.hub.state, o.hub.state.audit).record(inputs, {
    username: 'demo-radiologist',
    role: 'clinician',
    ip: 'demo',
    source: 'api',
    clinics: null,
  });
  const report = computePerformance(await o.hub.state.verdicts.reviewFacts({}), { minSamples: 20 });
  const all = report.byVersion[0];
  o.write(
    `feedback: ${verdicts.length} verdicts on ${studies.length} studies (simulated from the images' truth)` +
      (all
        ? ` → PPV ${pct(all.ppv.value)} [${pct(all.ppv.low)}–${pct(all.ppv.high)}] n=${all.ppv.n}, studies with a miss ${pct(all.missRate.value)} n=${all.missRate.n}, sensitivity ${pct(all.sensitivity.value)} n=${all.sensitivity.n}`
        : ''),
  );

  // Each clinic's edge assembles its own training set (the same code as `vigil-edge training-set`).
  const manifest = JSON.parse(readFileSync(join(o.modelDir, 'manifest.json'), 'utf8')) as {
    input: { width: number; height: number };
    output: { stride: number };
  };
  const sets: string[] = [];
  let images = 0;
  for (const d of o.devices) {
    const labels = await fetchLabels({ hubUrl: o.httpUrl, http: passwordHttp(d.deviceId, d.password) });
    const out = join(o.workDir, `set-${d.deviceId}`);
    const summary = assembleTrainingSet({
      labels,
      inputs: new TrainingInputStore(join(d.dataDir, 'training-inputs'), 100_000),
      out,
      width: manifest.input.width,
      height: manifest.input.height,
      stride: manifest.output.stride,
    });
    if (summary.images > 0) {
      sets.push(out);
      images += summary.images;
    }
  }
  if (sets.length === 0) {
    o.write('feedback: no labelled image had a kept model input; nothing to fine-tune');
    return;
  }
  o.write(
    `feedback: training sets assembled at ${sets.length} clinics' edges: ${images} images (the images stayed at each edge)`,
  );
  if (!o.train) return;
  const tuned = join(o.workDir, `vigil-demo-${o.version}`);
  await execFileAsync(
    process.execPath,
    [
      '--import',
      'tsx',
      join(ROOT, 'scripts/train/cli.ts'),
      ...sets.flatMap((s) => ['--from', s]),
      '--base',
      o.modelDir,
      '--version',
      o.version,
      '--epochs',
      '1',
      '--out',
      tuned,
    ],
    { cwd: ROOT, timeout: 600_000, maxBuffer: 16 * 1024 * 1024 },
  );
  const [reference] = await phantomImages(join(o.workDir, 'reference'), 1, 4242);
  const pkg = await packAndSign(tuned, reference as string, join(o.workDir, `vigil-demo-${o.version}.vpkg`), o.privateKeyPem);
  await o.hub.models.publish(pkg.path, pkg.signature, 'demo');
  o.write(
    `feedback: fine-tuned vigil-demo ${o.version} on ${images} images from ${sets.length} clinics' own training sets (images stayed at each edge); signed and published — roll it out in shadow mode to let the verdict-agreement gate judge it`,
  );
}
