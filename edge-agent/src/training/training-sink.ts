import type { Logger } from '@vigil/shared';
import type { AnalysedImage, ResultSink } from '../pipeline/image-processor.js';
import type { TrainingInputStore } from './input-store.js';

/** Keeps each analysed image's model input for retraining; a failure costs the input, never the result. */
export class TrainingInputSink implements ResultSink {
  readonly name = 'training-inputs';

  constructor(
    private readonly store: TrainingInputStore,
    private readonly logger: Logger,
  ) {}

  async accept({ result, analysis, shadow }: AnalysedImage): Promise<void> {
    if (shadow) return;
    const input = analysis.input;
    try {
      await this.store.keep(
        {
          instanceKey: result.instanceKey,
          patientKey: result.patientKey,
          width: input.dims[3],
          height: input.dims[2],
          rows: result.image.rows,
          columns: result.image.columns,
          pixelSpacingMm: result.image.pixelSpacingMm,
          scale: input.scale,
          mirrored: input.mirrored,
          model: result.model,
          acquisition: input.acquisition,
          keptAt: new Date().toISOString(),
        },
        input.tensor,
      );
    } catch (error) {
      this.logger.warn({ instanceKey: result.instanceKey, err: (error as Error).message }, 'could not keep the training input');
    }
  }
}
