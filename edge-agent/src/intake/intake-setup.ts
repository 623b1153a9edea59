import { mkdirSync } from 'node:fs';
import type { Logger } from '@vigil/shared';
import type { AtRest } from '../at-rest/at-rest-cipher.js';
import { deidSecret, type EdgeConfig } from '../config.js';
import { useOpenJpegTool } from '../imaging/openjpeg-tool.js';
import type { InputSpec } from '../inference/preprocess.js';
import { DecodePool } from '../pipeline/decode-pool.js';
import { type ImageHandler, ImagePipeline } from '../pipeline/image-pipeline.js';
import type { PipelineCounters } from '../telemetry/pipeline-counters.js';
import { DicomScp, dicomTlsMaterial } from './dicom-scp.js';
import { FolderWatcher } from './folder-watcher.js';
import { Spool } from './spool.js';

/** What intake is made of: the spool, the decode pool, the pipeline, and the listeners that feed them. */
export interface Intake {
  spool: Spool;
  pool: DecodePool;
  pipeline: ImagePipeline;
  scp?: DicomScp;
  watcher?: FolderWatcher;
}

/** DICOM SCP, watched folder, spool and the image pipeline, when intake is configured (undefined if not). */
export function buildIntake(
  config: EdgeConfig,
  o: {
    atRest: AtRest;
    counters: PipelineCounters;
    logger: Logger;
    handler: ImageHandler;
    inputSpec: () => InputSpec | undefined;
  },
): Intake | undefined {
  if (!config.dicom.enabled && !config.watchFolder.path) return undefined;
  const spool = new Spool(config.dataDir, o.atRest);
  if (spool.stalePartialsRemoved > 0) {
    o.logger.warn({ removed: spool.stalePartialsRemoved }, 'removed partial files of transfers cut off before the last stop');
  }
  // JPEG 2000 decoder for the workers and for this thread (model self-tests decode here).
  useOpenJpegTool(config.imaging.jpeg2000Tool);
  const pool = new DecodePool(config.imaging.decodeThreads || undefined, o.atRest, config.imaging.jpeg2000Tool);
  const pipeline = new ImagePipeline({
    spool,
    pool,
    deid: { secret: deidSecret(config), defaultIssuer: config.clinicId },
    counters: o.counters,
    logger: o.logger,
    handler: o.handler,
    inputSpec: o.inputSpec,
    concurrency: config.imaging.concurrency,
  });
  const received = (path: string) => {
    o.counters.received += 1;
    pipeline.enqueue(path);
  };
  const intake: Intake = { spool, pool, pipeline };
  if (config.dicom.enabled) {
    intake.scp = new DicomScp({
      aeTitle: config.dicom.aeTitle,
      port: config.dicom.port,
      host: config.dicom.host,
      allowedCallingAeTitles: config.dicom.allowedCallingAeTitles,
      allowAnyCallingAe: config.dicom.allowAnyCallingAe,
      maxObjectBytes: config.dicom.maxObjectBytes,
      minFreeBytes: config.intake.minFreeBytes,
      ...(config.dicom.tls.enabled ? { tls: dicomTlsMaterial(config.dicom.tls) } : {}),
      spool,
      logger: o.logger,
      onSpooled: received,
      onDuplicate: () => {
        o.counters.duplicates += 1;
      },
    });
  }
  if (config.watchFolder.path) {
    mkdirSync(config.watchFolder.path, { recursive: true });
    intake.watcher = new FolderWatcher({
      dir: config.watchFolder.path,
      spool,
      logger: o.logger,
      intervalMs: config.watchFolder.intervalMs,
      stableMs: config.watchFolder.stableMs,
      minFreeBytes: config.intake.minFreeBytes,
      onSpooled: received,
      onQuarantined: () => {
        o.counters.quarantined += 1;
      },
    });
  }
  return intake;
}
