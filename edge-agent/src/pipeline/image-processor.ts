import type { DeviceAddress, Logger, ResultMessage } from '@vigil/shared';
import { type Analysis, analyzeImage } from '../inference/analyze-image.js';
import type { OnnxModel } from '../inference/onnx-model.js';
import type { PreparedImage } from './prepare-image.js';
import { buildResult } from './result-stage.js';

/**
 * The edge's data path after intake, as explicit stages:
 *
 *   intake (SCP, folder → spool) → decode (worker) → de-identify → infer → result → sinks
 *
 * `ImagePipeline` runs the first three for spooled files; `vigil-edge infer` runs the same decode and
 * de-identify code in process. Both hand the prepared image to an `ImageProcessor`, which runs the
 * models, builds the results, lets decorators add to them (the overlay picture) and gives each to
 * every sink in order (training inputs, the clinic's PACS queue, the outbox to the hub; or, for the
 * CLI, a list it prints). Composition roots choose the sinks; nothing here knows which.
 */

/** The models an image is analysed with: the active one, and a candidate during a shadow rollout. */
export interface ModelSource {
  readonly active: { model: OnnxModel } | undefined;
  readonly shadow?: { model: OnnxModel } | undefined;
}

/** One analysed image: the result for the hub and what made it (for the edge's own sinks). */
export interface AnalysedImage {
  image: PreparedImage;
  analysis: Analysis;
  model: OnnxModel;
  result: ResultMessage;
  /** A shadow candidate's result: never shown to clinicians, never sent to the PACS. */
  shadow: boolean;
}

/** Adds to a result before the sinks see it (e.g. the overlay picture, when the edge sends it). */
export interface ResultDecorator {
  decorate(analysed: AnalysedImage): Promise<ResultMessage>;
}

/**
 * Where analysed images go. A sink that throws fails the image: it stays in the spool and is retried
 * (transient codes) or quarantined, so a sink that must not cost the result catches its own errors.
 */
export interface ResultSink {
  readonly name: string;
  accept(analysed: AnalysedImage): Promise<void>;
}

/** Sees every prepared image before inference (decode-only runs, tests). */
export interface ImageSink {
  accept(image: PreparedImage): Promise<void>;
}

export interface ImageProcessorOptions {
  address: DeviceAddress;
  models: ModelSource;
  decorators?: readonly ResultDecorator[];
  sinks: readonly ResultSink[];
  imageSinks?: readonly ImageSink[];
  logger: Logger;
}

export class ImageProcessor {
  constructor(private readonly o: ImageProcessorOptions) {}

  /** Runs the models on one prepared image and hands each result to the sinks; returns what was made. */
  async process(image: PreparedImage): Promise<AnalysedImage[]> {
    for (const sink of this.o.imageSinks ?? []) await sink.accept(image);
    const active = this.o.models.active;
    if (!active) {
      this.o.logger.info(
        { instanceKey: image.image.instanceKey, decodeMs: Math.round(image.timingsMs.decode) },
        'no model installed: image decoded only',
      );
      return [];
    }
    const made = [await this.analyse(image, active.model, false)];
    // Shadow mode: the candidate sees the same image; its result is flagged.
    const shadow = this.o.models.shadow;
    if (shadow) made.push(await this.analyse(image, shadow.model, true));
    for (const analysed of made) {
      for (const d of this.o.decorators ?? []) analysed.result = await d.decorate(analysed);
      for (const sink of this.o.sinks) await sink.accept(analysed);
    }
    return made;
  }

  private async analyse(image: PreparedImage, model: OnnxModel, shadow: boolean): Promise<AnalysedImage> {
    const analysis = await analyzeImage(image.pixels, image.attrs, model, image.modelInput);
    const result = buildResult(this.o.address, image, analysis, model);
    return { image, analysis, model, result: shadow ? { ...result, shadow: true } : result, shadow };
  }
}
