import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelay, type Logger } from '@vigil/shared';
import type { EdgeConfig } from '../config.js';
import type { AnalysedImage, ResultSink } from '../pipeline/image-processor.js';
import { writeDicomFile } from './dicom-writer.js';
import {
  buildMeasurementReport,
  COMPREHENSIVE_3D_SR,
  derivedUid,
  type ReportedImage,
  type ReportOptions,
} from './measurement-report.js';
import { cStore, type SendOutcome, stowRs } from './pacs-senders.js';
import { type Delivery, type DestinationCounts, PacsStore } from './pacs-store.js';
import { buildPresentationState, GRAYSCALE_SOFTCOPY_PRESENTATION_STATE } from './presentation-state.js';

export type PacsDestination = EdgeConfig['pacs']['destinations'][number];

/** What the study's objects need of one analysed image: its real identity and the model's findings. */
export function reportedImage(a: AnalysedImage): ReportedImage {
  return {
    identity: a.image.clinic,
    rows: a.result.image.rows,
    columns: a.result.image.columns,
    pixelSpacingMm: a.result.image.pixelSpacingMm,
    laterality: a.result.laterality,
    view: a.result.view,
    score: a.result.score,
    findings: a.result.findings,
    resultId: a.result.messageId,
    model: { ...a.result.model, ...(a.model.manifest.intendedUse ? { intendedUse: a.model.manifest.intendedUse } : {}) },
  };
}

/** What the device reports about each destination (telemetry, the dashboard's device page). */
export interface DestinationHealth extends DestinationCounts {
  state: 'ok' | 'retrying' | 'failing';
}

/**
 * Results back to the clinic's PACS (IHE AI Results). As a sink it files each analysed image
 * (with its real identity, kept here) under its study; once a study has settled it builds the study's
 * TID 1500 SR and queues it for every destination; a delivery loop sends what is due, retrying
 * unreachable destinations with backoff for as long as it takes and giving up only on repeated
 * refusals (VIGIL_PACS_REFUSED). Everything lives in `pacs.sqlite` and `pacs/objects/`: a restart,
 * or a kill -9, resumes where it stopped; an object is marked delivered only after the destination
 * confirmed it (a crash in between resends it: the PACS keeps one instance per SOP Instance UID).
 */
export class PacsService implements ResultSink {
  readonly name = 'pacs';
  readonly store: PacsStore;
  private readonly objectsDir: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly o: {
      dataDir: string;
      config: EdgeConfig['pacs'];
      device: ReportOptions['device'];
      logger: Logger;
      tickMs?: number;
      now?: () => number;
    },
  ) {
    this.store = new PacsStore(join(o.dataDir, 'pacs.sqlite'));
    this.objectsDir = join(o.dataDir, 'pacs', 'objects');
    mkdirSync(this.objectsDir, { recursive: true });
  }

  private now(): number {
    return this.o.now?.() ?? Date.now();
  }

  /** Sink: files the image under its study (shadow results never go to the PACS). */
  async accept(a: AnalysedImage): Promise<void> {
    if (a.shadow) return;
    const identity = a.image.clinic;
    if (!identity.studyInstanceUid || !identity.sopInstanceUid) return;
    this.store.addImage(
      {
        studyInstanceUid: identity.studyInstanceUid,
        studyKey: a.result.studyKey,
        image: reportedImage(a),
      },
      this.now() + this.o.config.studySettleS * 1000,
    );
    this.kick();
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.o.tickMs ?? 500);
    this.timer.unref();
    this.kick();
  }

  /** Runs one round of building and delivering, unless one is running. */
  kick(): void {
    if (this.stopped || this.running) return;
    this.running = this.round()
      .catch((error: Error) => this.o.logger.error({ code: 'VIGIL_INTERNAL', err: error.message }, 'PACS delivery round failed'))
      .finally(() => {
        this.running = undefined;
      });
  }

  /** Resolves when the current round has finished (tests, shutdown). */
  async settled(): Promise<void> {
    await this.running;
  }

  private async round(): Promise<void> {
    await this.buildDue();
    await this.deliverDue();
  }

  private async buildDue(): Promise<void> {
    const destinations = this.o.config.destinations.map((d) => d.name);
    for (const study of this.store.dueStudies(this.now())) {
      if (this.stopped) return;
      const version = study.version + 1;
      const first = study.images[0];
      const common = {
        images: study.images,
        model: { manufacturer: 'Vigil', ...(first?.model ?? { name: 'unknown', version: '0.0.0' }) },
        device: this.o.device,
        instanceNumber: version,
        contentDateTime: new Date(this.now()),
      };
      const objects: { sopInstanceUid: string; sopClassUid: string; path: string }[] = [];
      const write = async (
        kind: string,
        sopClassUid: string,
        build: (uids: { sopInstanceUid: string; seriesInstanceUid: string }) => Record<string, unknown>,
      ) => {
        // Deterministic: a rebuild after a crash gives the same instance, not a second one.
        const sopInstanceUid = derivedUid(`vigil-${kind}`, study.studyInstanceUid, String(version));
        const path = join(this.objectsDir, `${sopInstanceUid}.dcm`);
        await writeDicomFile(
          build({
            sopInstanceUid,
            seriesInstanceUid: derivedUid(`vigil-${kind}-series`, study.studyInstanceUid, this.o.device.uid),
          }),
          path,
        );
        const fd = openSync(path, 'r');
        fsyncSync(fd);
        closeSync(fd);
        objects.push({ sopInstanceUid, sopClassUid, path });
      };
      const wanted = new Set(this.o.config.objects);
      if (wanted.has('sr')) {
        await write('sr', COMPREHENSIVE_3D_SR, (uids) =>
          buildMeasurementReport({ ...common, ...uids, seriesNumber: this.o.config.seriesNumber }),
        );
      }
      if (wanted.has('gsps') && study.images.some((i) => i.findings.length > 0)) {
        await write('gsps', GRAYSCALE_SOFTCOPY_PRESENTATION_STATE, (uids) =>
          buildPresentationState({ ...common, ...uids, seriesNumber: this.o.config.seriesNumber + 1, label: 'VIGIL_AI' }),
        );
      }
      this.store.queueObjects({
        studyInstanceUid: study.studyInstanceUid,
        studyKey: study.studyKey,
        version,
        images: study.images.length,
        objects,
        destinations,
      });
      this.o.logger.info(
        { studyKey: study.studyKey, images: study.images.length, version, objects: objects.length, destinations },
        'AI results built for the PACS',
      );
    }
  }

  private send(dest: PacsDestination, path: string, sopClass: string): Promise<SendOutcome> {
    if (dest.kind === 'dimse') {
      const read = (file: string) => (file ? readFileSync(file) : undefined);
      return cStore(
        {
          host: dest.host,
          port: dest.port,
          calledAeTitle: dest.calledAeTitle,
          callingAeTitle: dest.callingAeTitle,
          timeoutMs: dest.timeoutMs,
          ...(dest.tls.enabled
            ? {
                tls: {
                  ...(dest.tls.caFile ? { ca: read(dest.tls.caFile) } : {}),
                  ...(dest.tls.certFile ? { cert: read(dest.tls.certFile) } : {}),
                  ...(dest.tls.keyFile ? { key: read(dest.tls.keyFile) } : {}),
                },
              }
            : {}),
        },
        path,
        sopClass,
      );
    }
    const secret = (file: string) => readFileSync(file, 'utf8').trim();
    const authorization = dest.tokenFile
      ? `Bearer ${secret(dest.tokenFile)}`
      : dest.username
        ? `Basic ${Buffer.from(`${dest.username}:${dest.passwordFile ? secret(dest.passwordFile) : ''}`).toString('base64')}`
        : undefined;
    return stowRs({ url: dest.url, timeoutMs: dest.timeoutMs, ...(authorization ? { authorization } : {}) }, path);
  }

  private async deliverDue(): Promise<void> {
    const byName = new Map(this.o.config.destinations.map((d) => [d.name, d]));
    const touched = new Set<string>();
    // Destinations in parallel, each in order: one that is down does not hold up the others.
    const perDestination = new Map<string, Delivery[]>();
    for (const d of this.store.due(this.now()))
      perDestination.set(d.destination, [...(perDestination.get(d.destination) ?? []), d]);
    await Promise.all(
      [...perDestination].map(async ([name, rows]) => {
        const dest = byName.get(name);
        if (!dest) return;
        for (const d of rows) {
          if (this.stopped) return;
          touched.add(d.path);
          await this.deliver(dest, d);
        }
      }),
    );
    for (const path of touched) if (this.store.finished(path)) rmSync(path, { force: true });
  }

  private async deliver(dest: PacsDestination, d: Delivery): Promise<void> {
    if (!existsSync(d.path)) {
      this.store.attemptFailed(d.id, {
        code: 'VIGIL_INTERNAL',
        message: 'the object file is gone',
        refusal: false,
        nextAt: this.now(),
        giveUp: true,
      });
      return;
    }
    const outcome = await this.send(dest, d.path, d.sopClassUid);
    if (outcome.ok) {
      this.store.delivered(d.id);
      this.o.logger.info({ destination: d.destination, studyKey: d.studyKey }, 'AI results delivered to the PACS');
      return;
    }
    const refusals = d.refusals + (outcome.kind === 'refused' ? 1 : 0);
    const giveUp = outcome.kind === 'refused' && refusals >= dest.maxRefusals;
    const delay = backoffDelay(d.attempts, { minMs: this.o.config.retryMinMs, maxMs: this.o.config.retryMaxMs });
    this.store.attemptFailed(d.id, {
      code: outcome.code,
      message: outcome.message,
      refusal: outcome.kind === 'refused',
      nextAt: this.now() + delay,
      giveUp,
    });
    this.o.logger[giveUp ? 'error' : 'warn'](
      { code: outcome.code, destination: d.destination, studyKey: d.studyKey, attempts: d.attempts + 1 },
      giveUp
        ? `PACS refused the AI results; giving up: ${outcome.message}`
        : `PACS delivery failed; retrying: ${outcome.message}`,
    );
  }

  health(): DestinationHealth[] {
    return this.store.counts(this.o.config.destinations.map((d) => d.name)).map((c) => ({
      ...c,
      state: c.failed > 0 ? 'failing' : c.pending > 0 && c.lastError ? 'retrying' : 'ok',
    }));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
    this.store.close();
  }
}
