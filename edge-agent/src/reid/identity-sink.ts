import type { AnalysedImage, ResultSink } from '../pipeline/image-processor.js';
import type { IdentityIndex } from './identity-index.js';

/** Files each analysed image's patient in the clinic's identity index, under the pseudonyms the hub knows. */
export class IdentityIndexSink implements ResultSink {
  readonly name = 'identity-index';

  constructor(private readonly index: IdentityIndex) {}

  async accept(a: AnalysedImage): Promise<void> {
    if (a.shadow) return;
    this.index.record(a.result.patientKey, a.result.studyKey, a.image.clinic);
  }
}
