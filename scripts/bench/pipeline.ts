// Edge pipeline throughput on uncompressed mammography-sized DICOM (3328×4096, 14-bit): spool →
// decode (worker pool) → de-identify → preprocess (sharp) → ONNX Runtime → findings → outbox, in
// the real EdgeAgent. Baseline in the same run: raw `session.run` of the same model on pre-made
// tensors. Also p50/p99 per-image latency and the process's peak RSS; and the same pipeline with a
// stand-in for a GPU-fast model (stand-in-model.py), against decode + preprocess alone in the pool.
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type Acquisition,
  DecodePool,
  decodeFile,
  EdgeAgent,
  type InputSpec,
  inputSpecOf,
  loadEdgeConfig,
  OnnxModel,
  preprocess,
  runDecodeTask,
  type StoredPixels,
} from '@vigil/edge-agent';
import { createLogger, type ResultMessage } from '@vigil/shared';
import { BUNDLED_MODEL } from '../harness/model-packages.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { planCohort } from '../phantoms/cohort-plan.js';
import { renderMammogram } from '../phantoms/render-mammogram.js';
import { writeMammogram } from '../phantoms/write-dicom.js';
import { percentile, progress, round, summarise } from './stats.js';

/** 0.5.0, one network with the plain steps: what an image cost before the film branch. */
const PHANTOM_ONLY_MODEL = join(import.meta.dirname, '../../models/cross-validation/phantom-only');
const IMAGES = Number(process.env.BENCH_PIPELINE_IMAGES ?? 40);
const ROWS = 4096;
const COLS = 3328;

/**
 * What an image costs at the edge, preprocess + inference, with the shipped model against the
 * phantom-only 0.5.0 (one network, plain steps) on the same decoded mammograms in the same run
 * (issue 26's goal: within 1.5×): the shipped model's digital path, and its film path (the film
 * branch with the breast, label and pectoral steps; the images are marked as film for it).
 */
async function perImageCost(sources: string[], shipped: OnnxModel, before: OnnxModel): Promise<Record<string, number | string>> {
  const decoded = await Promise.all(sources.map((s) => decodeFile(s)));
  const timeOf = async (model: OnnxModel, acquisition: Acquisition): Promise<number> => {
    const spec = inputSpecOf(model.manifest);
    const runs = 12;
    const started = performance.now();
    for (let i = 0; i < runs; i++) {
      const { frame, attrs } = decoded[i % decoded.length] as Awaited<ReturnType<typeof decodeFile>>;
      const input = await preprocess(frame.pixels, { ...attrs, acquisition }, spec);
      await model.run(input.tensor, input.acquisition);
    }
    return (performance.now() - started) / runs;
  };
  await timeOf(before, 'digital');
  // Alternate them, so that load on the machine falls on all alike.
  const beforeMs: number[] = [];
  const digitalMs: number[] = [];
  const filmMs: number[] = [];
  for (let r = 0; r < 3; r++) {
    beforeMs.push(await timeOf(before, 'digital'));
    digitalMs.push(await timeOf(shipped, 'digital'));
    filmMs.push(await timeOf(shipped, 'film'));
  }
  const median = (xs: number[]) => xs.sort((a, b) => a - b)[1] as number;
  return {
    before: `${before.manifest.name} ${before.manifest.version}`,
    beforeMs: round(median(beforeMs), 1),
    digitalMs: round(median(digitalMs), 1),
    filmMs: round(median(filmMs), 1),
    ratioDigitalVsBefore: round(median(digitalMs) / median(beforeMs), 3),
    ratioFilmVsBefore: round(median(filmMs) / median(beforeMs), 3),
    goal: '<= 1.5',
  };
}

/** One pass over the stored values: a loop that reads each of them once (the per-pixel floor). */
function onePass(pixels: StoredPixels): number {
  let sum = 0;
  for (let i = 0; i < pixels.length; i++) sum += pixels[i] as number;
  return sum;
}

/**
 * Decode and preprocess of one image on one thread, nothing else running, against one pass over
 * the same stored values (issue 30: each stage ≤ 2× one pass), the three alternated image by image
 * so load on the machine falls on all alike. In the agent the same stages share 2 cores with
 * inference and each other, which stretches their wall time (stageP50Ms).
 */
async function stagesAlone(sources: string[], spec: InputSpec): Promise<Record<string, number | string>> {
  const runs = 15;
  const decodeMs: number[] = [];
  const passMs: number[] = [];
  const preprocessMs: number[] = [];
  let checksum = 0;
  for (let r = 0; r <= runs; r++) {
    const decoded = await runDecodeTask({ path: sources[r % sources.length] as string, frameIndex: 0 });
    if (!decoded.ok) throw new Error(`decode failed: ${decoded.error.message}`);
    const t0 = performance.now();
    checksum += onePass(decoded.pixels);
    const t1 = performance.now();
    await preprocess(decoded.pixels, decoded.attrs, spec);
    const t2 = performance.now();
    if (r === 0) continue; // warm-up
    decodeMs.push(decoded.decodeMs);
    passMs.push(t1 - t0);
    preprocessMs.push(t2 - t1);
  }
  // The sum is used, so the pass cannot be optimised away.
  if (!Number.isFinite(checksum)) throw new Error('one pass: not a number');
  const median = (xs: number[]) =>
    percentile(
      [...xs].sort((a, b) => a - b),
      0.5,
    );
  const pass = median(passMs);
  return {
    onePassMs: round(pass, 1),
    decodeMs: round(median(decodeMs), 1),
    preprocessMs: round(median(preprocessMs), 1),
    ratioDecodeVsOnePass: round(median(decodeMs) / pass, 2),
    ratioPreprocessVsOnePass: round(median(preprocessMs) / pass, 2),
    goal: '<= 2 each',
  };
}

/** Decode + preprocess on their own: every image handed to a decode pool of the agent's size at once. */
async function decodePoolRate(sources: string[], spec: InputSpec): Promise<number> {
  const pool = new DecodePool();
  try {
    await pool.warm();
    await pool.decode({ path: sources[0] as string, frameIndex: 0, preprocess: spec });
    const done: number[] = [];
    const results = await Promise.all(
      Array.from({ length: IMAGES }, (_, i) =>
        pool.decode({ path: sources[i % sources.length] as string, frameIndex: 0, preprocess: spec }).then((r) => {
          done.push(performance.now());
          return r;
        }),
      ),
    );
    if (results.some((r) => !r.ok)) throw new Error('decode failed in the pool-only run');
    return steadyRate(done);
  } finally {
    await pool.close();
  }
}

/**
 * Images per second between the first image done and the last: the rate once running, the same
 * definition for the pool alone (warmed beforehand) and for the agent (whose start — workers,
 * codecs, the model — is reported apart, as the time to its first image).
 */
function steadyRate(doneAtMs: number[]): number {
  const sorted = [...doneAtMs].sort((a, b) => a - b);
  const first = sorted[0] ?? 0;
  const last = sorted.at(-1) ?? 0;
  return sorted.length > 1 && last > first ? (sorted.length - 1) / ((last - first) / 1000) : 0;
}

/** IMAGES images through a real EdgeAgent (spool → … → outbox) with the model in `modelDir`. */
async function runAgent(dataDir: string, modelDir: string, sources: string[]) {
  const config = loadEdgeConfig(undefined, {
    VIGIL_DATA_DIR: dataDir,
    VIGIL_MQTT__URL: 'mqtt://127.0.0.1:1', // no broker: results stay in the outbox
    VIGIL_MQTT__PASSWORD: 'bench-password-not-used',
    VIGIL_MODEL__DIR: modelDir,
    VIGIL_WATCH_FOLDER__PATH: join(dataDir, '..', `inbox-${Date.now()}`),
    VIGIL_DEID__SECRET: 'bench-pseudonym-secret',
    VIGIL_TELEMETRY__INTERVAL_S: '3600',
  });
  const ready = join(dataDir, 'spool', 'ready');
  mkdirSync(ready, { recursive: true });
  for (let i = 0; i < IMAGES; i++)
    copyFileSync(sources[i % sources.length] as string, join(ready, `bench-${String(i).padStart(4, '0')}.dcm`));
  const agent = new EdgeAgent(config, { logger: createLogger('bench-edge', { level: 'silent' }) });
  let peakRss = process.memoryUsage().rss;
  const rssTimer = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  }, 20);
  const latencies: number[] = [];
  const done: number[] = [];
  const originalRecord = agent.counters.recordLatency.bind(agent.counters);
  agent.counters.recordLatency = (ms: number) => {
    latencies.push(ms);
    done.push(performance.now());
    originalRecord(ms);
  };
  const started = performance.now();
  await agent.start();
  while (agent.counters.processed + agent.counters.quarantined < IMAGES) await new Promise((r) => setTimeout(r, 20));
  const elapsedS = (performance.now() - started) / 1000;
  clearInterval(rssTimer);
  const results = agent.outbox
    .after(0, 10_000)
    .filter((m) => m.kind === 'results')
    .map((m) => JSON.parse(m.payload.toString('utf8')) as ResultMessage);
  const quarantined = agent.counters.quarantined;
  await agent.stop();
  const stage = (k: keyof ResultMessage['timingsMs']) => summarise(results.map((r) => r.timingsMs[k])).p50;
  return {
    perS: IMAGES / elapsedS,
    steadyPerS: steadyRate(done),
    firstImageS: round(((done[0] ?? started) - started) / 1000, 3),
    quarantined,
    latencyMs: summarise(latencies),
    stageP50Ms: { decode: stage('decode'), preprocess: stage('preprocess'), infer: stage('infer') },
    peakRssMb: round(peakRss / 1e6, 0),
  };
}

export async function benchPipeline(): Promise<Record<string, unknown>> {
  const dir = makeTempDir('bench-pipeline');
  try {
    progress(`pipeline: rendering 2 phantom mammograms at ${COLS}×${ROWS}`);
    const sources: string[] = [];
    for (const [i, patient] of planCohort(808, 2, 1).entries()) {
      const o = {
        patient,
        laterality: i === 0 ? 'L' : 'R',
        view: 'CC',
        visitIndex: 0,
        rows: ROWS,
        columns: COLS,
        pixelSpacingMm: 0.07,
        seed: 808,
      } as const;
      const path = join(dir.path, `source-${i}.dcm`);
      await writeMammogram({ ...o, path, pixels: renderMammogram(o).pixels });
      sources.push(path);
    }
    const sizeMb = readFileSync(sources[0] as string).byteLength / 1e6;

    progress('pipeline: raw session.run baseline on pre-made tensors');
    const model = await OnnxModel.load(BUNDLED_MODEL, { preferCuda: false });
    const { width, height } = model.manifest.input;
    const tensors = Array.from({ length: 8 }, (_, k) =>
      Float32Array.from({ length: width * height }, (_, j) => ((j * 7 + k * 13) % 101) / 100),
    );
    for (let i = 0; i < 20; i++) await model.run(tensors[i % 8] as Float32Array);
    const rawRuns = 300;
    const started = performance.now();
    for (let i = 0; i < rawRuns; i++) await model.run(tensors[i % 8] as Float32Array);
    const rawPerS = rawRuns / ((performance.now() - started) / 1000);
    const before = await OnnxModel.load(PHANTOM_ONLY_MODEL, { preferCuda: false });
    const perImage = await perImageCost(sources, model, before);
    await before.close();
    await model.close();

    progress('pipeline: decode and preprocess alone on one thread, against one pass over the pixels');
    const stages = await stagesAlone(sources, inputSpecOf(model.manifest));

    progress(`pipeline: ${IMAGES} images through the edge agent`);
    const real = await runAgent(join(dir.path, 'edge'), BUNDLED_MODEL, sources);

    // Issue 30: does the pipeline keep an accelerator busy? With a model fast enough to stand in for
    // a GPU (one pooling, well under a millisecond), throughput against what decode + preprocess
    // deliver on their own in the same worker pool.
    progress('pipeline: decode + preprocess alone in the worker pool');
    const standInDir = join(dir.path, 'stand-in-model');
    execFileSync('/usr/bin/python3', [
      join(import.meta.dirname, 'stand-in-model.py'),
      join(BUNDLED_MODEL, 'manifest.json'),
      standInDir,
    ]);
    const manifest = JSON.parse(readFileSync(join(BUNDLED_MODEL, 'manifest.json'), 'utf8')) as Parameters<typeof inputSpecOf>[0];
    const poolOnly = await decodePoolRate(sources, inputSpecOf(manifest));
    progress(`pipeline: ${IMAGES} images through the edge agent with the stand-in model`);
    const standInModel = await OnnxModel.load(standInDir, { preferCuda: false });
    const standInMs = await (async () => {
      const t = new Float32Array(width * height);
      for (let i = 0; i < 10; i++) await standInModel.run(t);
      const t0 = performance.now();
      for (let i = 0; i < 100; i++) await standInModel.run(t);
      return (performance.now() - t0) / 100;
    })();
    await standInModel.close();
    const fast = await runAgent(join(dir.path, 'edge-stand-in'), standInDir, sources);
    const pipelinePerS = real.perS;
    return {
      bench: 'pipeline',
      images: IMAGES,
      imageMatrix: `${COLS}x${ROWS}`,
      fileMb: round(sizeMb, 1),
      quarantined: real.quarantined,
      pipelineImagesPerS: round(pipelinePerS),
      rawSessionRunPerS: round(rawPerS),
      ratioPipelineVsRaw: round(pipelinePerS / rawPerS, 3),
      latencyMs: real.latencyMs,
      stageP50Ms: real.stageP50Ms,
      stagesAloneOneThread: stages,
      peakRssMb: real.peakRssMb,
      perImageVsPhantomOnly: perImage,
      standIn: {
        inferMs: round(standInMs, 2),
        decodePreprocessAlonePerS: round(poolOnly),
        pipelineImagesPerS: round(fast.steadyPerS),
        pipelineImagesPerSWithStart: round(fast.perS),
        firstImageS: fast.firstImageS,
        ratioPipelineVsDecodePreprocess: round(fast.steadyPerS / poolOnly, 3),
        goal: '>= 0.9',
        peakRssMb: fast.peakRssMb,
        stageP50Ms: fast.stageP50Ms,
      },
      note: 'raw session.run is the model alone on pre-made tensors; the pipeline decodes a 27 MB image and resizes 13.6 Mpixel per image; standIn: the same pipeline with a sub-millisecond model, against the decode pool alone on the same images, both as the rate from the first image done to the last (the agent start apart: firstImageS, and pipelineImagesPerSWithStart)',
    };
  } finally {
    dir.remove();
  }
}
