import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { backoffDelay, type Logger, VigilError } from '@vigil/shared';
import { type AtRest, PLAINTEXT } from '../at-rest/at-rest-cipher.js';
import type { EdgeConfig } from '../config.js';
import { routeDimseLogs } from '../imaging/dimse-log.js';
import type { AnalysedImage, ResultSink } from '../pipeline/image-processor.js';
import { readSealedDicomFile, writeSealedDicomFile } from './dicom-writer.js';
import {
  buildMeasurementReport,
  COMPREHENSIVE_3D_SR,
  derivedUid,
  type ReportedImage,
  type ReportOptions,
} from './measurement-report.js';
import { type Delivery, type DestinationCounts, PacsStore } from './pacs-store.js';
import { buildPresentationState, GRAYSCALE_SOFTCOPY_PRESENTATION_STATE } from './presentation-state.js';
import { type PacsDestination, type SendOutcome, sendTo } from './senders/index.js';
import { fitToVr, type VrNote } from './vr-fit.js';

export type { PacsDestination } from './senders/index.js';

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
  private readonly atRest: AtRest;
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
      /** Seals what holds identity: the queued entries in pacs.sqlite and the built objects. */
      atRest?: AtRest;
      tickMs?: number;
      now?: () => number;
    },
  ) {
    this.atRest = o.atRest ?? PLAINTEXT;
    routeDimseLogs(o.logger);
    this.store = new PacsStore(join(o.dataDir, 'pacs.sqlite'), this.atRest);
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
    for (const study of this.store.dueStudies(this.now())) {
      if (this.stopped) return;
      try {
        this.build(study.studyKey, study.version + 1, study.images());
      } catch (error) {
        // Set aside after a few attempts so the studies behind it are built and delivered. The log
        // and the store get the code and a message that names attributes, never their values.
        const code = error instanceof VigilError ? error.code : 'VIGIL_PACS_BUILD_FAILED';
        const message =
          error instanceof VigilError ? error.message : `the objects could not be encoded (${(error as Error).name})`;
        const giveUp = study.attempts + 1 >= this.o.config.maxBuildAttempts;
        this.store.buildFailed(study.studyKey, {
          code: giveUp ? 'VIGIL_PACS_BUILD_FAILED' : code,
          message: giveUp ? `${code}: ${message}` : message,
          nextAt: this.now() + backoffDelay(study.attempts, { minMs: this.o.config.retryMinMs, maxMs: this.o.config.retryMaxMs }),
          giveUp,
        });
        this.o.logger[giveUp ? 'error' : 'warn'](
          {
            code: giveUp ? 'VIGIL_PACS_BUILD_FAILED' : code,
            cause: code,
            studyKey: study.studyKey,
            attempts: study.attempts + 1,
          },
          giveUp
            ? `AI results for the PACS could not be built; study set aside: ${message}`
            : `AI results for the PACS could not be built; retrying: ${message}`,
        );
      }
    }
  }

  /** Builds a study's objects (values fitted to their VRs), seals and queues them for every destination. */
  private build(studyKey: string, version: number, images: ReportedImage[]): void {
    const first = images[0];
    if (!first) throw new VigilError('VIGIL_PACS_BUILD_FAILED', 'the study has no readable image entry');
    const studyInstanceUid = first.identity.studyInstanceUid;
    const destinations = this.o.config.destinations.map((d) => d.name);
    const common = {
      images,
      model: { manufacturer: 'Vigil', ...first.model },
      device: this.o.device,
      instanceNumber: version,
      contentDateTime: new Date(this.now()),
    };
    const objects: { sopInstanceUid: string; sopClassUid: string; path: string }[] = [];
    const notes: VrNote[] = [];
    const write = (
      kind: string,
      sopClassUid: string,
      build: (uids: { sopInstanceUid: string; seriesInstanceUid: string }) => Record<string, unknown>,
    ) => {
      // Deterministic: a rebuild after a crash gives the same instance, not a second one.
      const sopInstanceUid = derivedUid(`vigil-${kind}`, studyInstanceUid, String(version));
      const path = join(this.objectsDir, `${sopInstanceUid}.dcm`);
      const fitted = fitToVr(
        build({ sopInstanceUid, seriesInstanceUid: derivedUid(`vigil-${kind}-series`, studyInstanceUid, this.o.device.uid) }),
      );
      notes.push(...fitted.notes);
      writeSealedDicomFile(fitted.dataset, path, this.atRest);
      objects.push({ sopInstanceUid, sopClassUid, path });
    };
    const wanted = new Set(this.o.config.objects);
    if (wanted.has('sr')) {
      write('sr', COMPREHENSIVE_3D_SR, (uids) =>
        buildMeasurementReport({ ...common, ...uids, seriesNumber: this.o.config.seriesNumber }),
      );
    }
    if (wanted.has('gsps') && images.some((i) => i.findings.length > 0)) {
      write('gsps', GRAYSCALE_SOFTCOPY_PRESENTATION_STATE, (uids) =>
        buildPresentationState({ ...common, ...uids, seriesNumber: this.o.config.seriesNumber + 1, label: 'VIGIL_AI' }),
      );
    }
    this.store.queueObjects({ studyKey, version, images: images.length, objects, destinations });
    if (notes.length > 0) {
      this.o.logger.warn(
        { studyKey, fitted: [...new Set(notes.map((n) => `${n.keyword} ${n.action} (${n.vr})`))] },
        'values that did not fit their VR were truncated or dropped in the AI results',
      );
    }
    this.o.logger.info(
      { studyKey, images: images.length, version, objects: objects.length, destinations },
      'AI results built for the PACS',
    );
  }

  private send(dest: PacsDestination, path: string, sopClass: string): Promise<SendOutcome> {
    return sendTo(dest, readSealedDicomFile(path, this.atRest), sopClass);
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
    let outcome: SendOutcome;
    try {
      outcome = await this.send(dest, d.path, d.sopClassUid);
    } catch (error) {
      // The object cannot be read back (a key gone, a file tampered with): no resend can help.
      const code = error instanceof VigilError ? error.code : 'VIGIL_INTERNAL';
      this.store.attemptFailed(d.id, {
        code,
        message: (error as Error).message,
        refusal: false,
        nextAt: this.now(),
        giveUp: true,
      });
      this.o.logger.error({ code, destination: d.destination, studyKey: d.studyKey }, 'AI results object unreadable; given up');
      return;
    }
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
