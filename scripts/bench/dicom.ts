// `npm run bench -- dicom`: results back to the PACS and DICOM intake, each against a baseline in the
// same run.
//  1. Per study: the TID 1500 SR and presentation state built and delivered (C-STORE to dcmtk's
//     storescp, STOW-RS to Orthanc) beside the model's inference time for the same study.
//  2. Intake: storescu sending 40 mammography-sized files to the edge's SCP (each instance fsynced
//     before the C-STORE response), to dcmtk's storescp and to Orthanc; one association, then four in
//     parallel. Goals: the edge ≥ 1.0 × Orthanc and ≥ 0.8 × storescp.
import { execFile, execFileSync } from 'node:child_process';
import { copyFileSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  buildMeasurementReport,
  DicomScp,
  derivedUid,
  ImageProcessor,
  inlineDecoder,
  inputSpecOf,
  OnnxModel,
  prepareImage,
  reportedImage,
  Spool,
} from '@vigil/edge-agent';
import { createLogger } from '@vigil/shared';
import { PLAINTEXT } from '../../edge-agent/src/at-rest/at-rest-cipher.js';
import { routeDimseLogs } from '../../edge-agent/src/imaging/dimse-log.js';
import { writeSealedDicomFile } from '../../edge-agent/src/reporting/dicom-writer.js';
import { buildPresentationState } from '../../edge-agent/src/reporting/presentation-state.js';
import { cStore } from '../../edge-agent/src/reporting/senders/dimse-sender.js';
import { stowRs } from '../../edge-agent/src/reporting/senders/stow-sender.js';
import { fitToVr } from '../../edge-agent/src/reporting/vr-fit.js';
import { freePort } from '../harness/free-port.js';
import { BUNDLED_MODEL } from '../harness/model-packages.js';
import { OrthancServer, StoreScp } from '../harness/pacs-servers.js';
import { makeTempDir } from '../harness/temp-dir.js';
import { generatePhantoms } from '../phantoms/generate-phantoms.js';
import { progress, round, summarise } from './stats.js';

const run = promisify(execFile);
const STUDIES = Number(process.env.BENCH_DICOM_STUDIES ?? 8);
const FILES = Number(process.env.BENCH_DICOM_FILES ?? 40);

async function srPerStudy(dir: string, storescp: StoreScp, orthanc: OrthancServer): Promise<Record<string, unknown>> {
  progress('SR bench: rendering a four-view study, running the model');
  const truth = await generatePhantoms({ out: join(dir, 'study'), patients: 1, visits: 1, seed: 5353, rows: 1024, columns: 832 });
  const visit = truth.patients[0]?.visits[0];
  if (!visit) throw new Error('no study');
  const model = await OnnxModel.load(BUNDLED_MODEL);
  const logger = createLogger('bench', { level: 'silent' });
  const processor = new ImageProcessor({
    address: { clinicId: 'c', deviceId: 'd' },
    models: { active: { model } },
    sinks: [],
    logger,
  });
  const inferMs: number[] = [];
  const buildMs: number[] = [];
  const cStoreMs: number[] = [];
  const stowMs: number[] = [];
  const device = {
    uid: derivedUid('bench'),
    name: 'bench',
    manufacturer: 'Vigil',
    modelName: 'vigil-edge',
    serialNumber: 'b',
    softwareVersion: '0',
  };
  for (let s = 0; s < STUDIES; s++) {
    const images = [];
    let studyInfer = 0;
    for (const image of visit.images) {
      const started = performance.now();
      const decoded = await inlineDecoder.decode({
        path: join(dir, 'study', image.file),
        frameIndex: 0,
        preprocess: inputSpecOf(model.manifest),
      });
      if (!decoded.ok) throw new Error(decoded.error.message);
      const [a] = await processor.process(prepareImage(image.file, decoded, { secret: 'b'.repeat(20), defaultIssuer: 'c' }));
      studyInfer += performance.now() - started;
      if (!a) throw new Error('no result');
      images.push(reportedImage(a));
    }
    inferMs.push(studyInfer);
    const started = performance.now();
    const common = {
      images,
      model: { manufacturer: 'Vigil', ...model.manifest },
      device,
      instanceNumber: 1,
      contentDateTime: new Date(),
    };
    const sr = join(dir, `sr-${s}.dcm`);
    const pr = join(dir, `pr-${s}.dcm`);
    // As the edge builds them (PacsService): values fitted to their VRs, encoded in memory, written
    // through the at-rest writer (encryption off, the default).
    writeSealedDicomFile(
      fitToVr(
        buildMeasurementReport({ ...common, sopInstanceUid: derivedUid(), seriesInstanceUid: derivedUid(), seriesNumber: 9901 }),
      ).dataset,
      sr,
      PLAINTEXT,
    );
    writeSealedDicomFile(
      fitToVr(
        buildPresentationState({
          ...common,
          sopInstanceUid: derivedUid(),
          seriesInstanceUid: derivedUid(),
          seriesNumber: 9902,
          label: 'VIGIL_AI',
        }),
      ).dataset,
      pr,
      PLAINTEXT,
    );
    buildMs.push(performance.now() - started);
    const c0 = performance.now();
    for (const [file, cls] of [
      [sr, '1.2.840.10008.5.1.4.1.1.88.34'],
      [pr, '1.2.840.10008.5.1.4.1.1.11.1'],
    ] as const) {
      const out = await cStore(
        { host: '127.0.0.1', port: storescp.port, calledAeTitle: storescp.aeTitle, callingAeTitle: 'VIGIL', timeoutMs: 30_000 },
        readFileSync(file),
        cls,
      );
      if (!out.ok) throw new Error(out.message);
    }
    cStoreMs.push(performance.now() - c0);
    const w0 = performance.now();
    for (const file of [sr, pr]) {
      const out = await stowRs({ url: `${orthanc.url}/dicom-web`, timeoutMs: 30_000 }, readFileSync(file));
      if (!out.ok) throw new Error(out.message);
    }
    stowMs.push(performance.now() - w0);
    progress(`SR bench: study ${s + 1}/${STUDIES}`);
  }
  await model.close();
  const infer = summarise(inferMs);
  const build = summarise(buildMs);
  const c = summarise(cStoreMs);
  const w = summarise(stowMs);
  return {
    studies: STUDIES,
    imagesPerStudy: visit.images.length,
    inferencePerStudyMs: infer,
    srAndPresentationStateBuildMs: build,
    deliveryCStoreMs: c,
    deliveryStowRsMs: w,
    ratioBuildAndCStoreToInferenceP50: round((build.p50 + c.p50) / infer.p50, 3),
  };
}

async function intake(dir: string, storescp: StoreScp, orthanc: OrthancServer): Promise<Record<string, unknown>> {
  progress(`intake bench: rendering a full-matrix study, then ${FILES} copies with their own UIDs`);
  const truth = await generatePhantoms({ out: join(dir, 'full'), patients: 1, visits: 1, seed: 5454, rows: 4096, columns: 3328 });
  const sources = truth.patients[0]?.visits[0]?.images.map((i) => join(dir, 'full', i.file)) ?? [];
  const files: string[] = [];
  for (let i = 0; i < FILES; i++) {
    const f = join(dir, 'send', `f${String(i).padStart(3, '0')}.dcm`);
    execFileSync('mkdir', ['-p', join(dir, 'send')]);
    copyFileSync(sources[i % sources.length] as string, f);
    files.push(f);
  }
  execFileSync('dcmodify', ['-nb', '-gin', ...files]);
  const bytes = files.reduce((n, f) => n + statSync(f).size, 0);

  const scpPort = await freePort();
  let spool = new Spool(join(dir, 'edge-0'));
  const logger = createLogger('bench', { level: 'silent' });
  let received = 0;
  const scp = new DicomScp({
    aeTitle: 'VIGIL',
    port: scpPort,
    host: '127.0.0.1',
    allowedCallingAeTitles: [],
    allowAnyCallingAe: true,
    maxObjectBytes: 2 * 1024 ** 3,
    minFreeBytes: 0,
    get spool() {
      return spool;
    },
    logger,
    onSpooled: () => {
      received += 1;
    },
  });
  await scp.start();
  const targets = [
    { name: 'edge', port: scpPort, aet: 'VIGIL' },
    { name: 'storescp', port: storescp.port, aet: storescp.aeTitle },
    { name: 'orthanc', port: orthanc.dicomPort, aet: orthanc.aeTitle },
  ];
  const results: Record<string, Record<string, number>> = {};
  for (const parallel of [1, 4]) {
    for (const t of targets) {
      if (t.name === 'edge') {
        spool.close();
        spool = new Spool(join(dir, `edge-${parallel}`));
      }
      // Fresh UIDs per run, so no target sees a duplicate.
      execFileSync('dcmodify', ['-nb', '-gin', ...files]);
      const chunks = Array.from({ length: parallel }, (_, k) => files.filter((_, i) => i % parallel === k));
      const started = performance.now();
      await Promise.all(
        chunks.map((chunk) => run('storescu', ['-aec', t.aet, '-aet', 'STORESCU', '127.0.0.1', String(t.port), ...chunk])),
      );
      const seconds = (performance.now() - started) / 1000;
      results[`${t.name}x${parallel}`] = {
        seconds: round(seconds, 2),
        mbPerS: round(bytes / 1e6 / seconds, 1),
        filesPerS: round(FILES / seconds, 1),
      };
      progress(`intake bench: ${t.name}, ${parallel} association(s): ${round(bytes / 1e6 / seconds, 1)} MB/s`);
    }
  }
  scp.stop();
  spool.close();
  const ratio = (a: string, b: string) => round((results[a]?.mbPerS ?? 0) / (results[b]?.mbPerS ?? 1), 2);
  return {
    files: FILES,
    megabytes: round(bytes / 1e6, 1),
    edgeInstancesSpooled: received,
    ...results,
    edgeVsOrthancOne: ratio('edgex1', 'orthancx1'),
    edgeVsOrthancFour: ratio('edgex4', 'orthancx4'),
    edgeVsStorescpOne: ratio('edgex1', 'storescpx1'),
    edgeVsStorescpFour: ratio('edgex4', 'storescpx4'),
    goals: { vsOrthanc: 1.0, vsStorescp: 0.8 },
  };
}

export async function benchDicom(): Promise<Record<string, unknown>> {
  // The library's association chatter goes to a logger, not onto the bench's JSON on stdout.
  routeDimseLogs(createLogger('bench', { level: 'warn' }));
  const dir = makeTempDir('bench-dicom');
  const storescp = new StoreScp();
  const orthanc = new OrthancServer();
  try {
    await Promise.all([storescp.start(), orthanc.start()]);
    const sr = await srPerStudy(dir.path, storescp, orthanc);
    const received = readdirSync(storescp.dir.path).length;
    const intakeFigures = await intake(dir.path, storescp, orthanc);
    return { bench: 'dicom', sr: { ...sr, storescpReceived: received }, intake: intakeFigures };
  } finally {
    await Promise.all([storescp.dispose(), orthanc.dispose()]);
    dir.remove();
  }
}
