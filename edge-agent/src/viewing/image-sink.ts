import type { Logger } from '@vigil/shared';
import type { StoredPixels } from '../imaging/pixel-data.js';
import type { AnalysedImage, ResultSink } from '../pipeline/image-processor.js';
import type { ClinicImageStore, KeptImage } from './image-store.js';

/**
 * A window for an image that names none: the 1st to 99.5th percentile of its modality values, from
 * a strided sample (a viewer's first look; the clinician moves it).
 */
export function defaultWindow(pixels: StoredPixels, slope: number, intercept: number): { center: number; width: number } {
  const step = Math.max(1, Math.floor(pixels.length / 200_000));
  const sample: number[] = [];
  for (let i = 0; i < pixels.length; i += step) sample.push((pixels[i] as number) * slope + intercept);
  sample.sort((a, b) => a - b);
  const at = (q: number) => sample[Math.min(sample.length - 1, Math.floor(q * sample.length))] ?? 0;
  const low = at(0.01);
  const high = at(0.995);
  return { center: (low + high) / 2, width: Math.max(1, high - low) };
}

/**
 * Keeps each analysed image (never a shadow run's) in the clinic's image store, for clinicians'
 * viewers. A failure costs the viewer copy, never the result: it is logged.
 */
export class ClinicImageSink implements ResultSink {
  readonly name = 'clinic-images';

  constructor(
    private readonly store: ClinicImageStore,
    private readonly logger: Logger,
  ) {}

  async accept({ image: prepared, shadow }: AnalysedImage): Promise<void> {
    if (shadow) return;
    const { image, attrs, pixels, photometric } = prepared;
    const bits = pixels.BYTES_PER_ELEMENT === 1 ? 8 : pixels.BYTES_PER_ELEMENT === 2 ? 16 : undefined;
    if (!bits || attrs.samplesPerPixel !== 1 || (photometric !== 'MONOCHROME1' && photometric !== 'MONOCHROME2')) {
      this.logger.info(
        { instanceKey: image.instanceKey, photometric, bytesPerSample: pixels.BYTES_PER_ELEMENT },
        'image not kept for viewing: only greyscale frames of 8 or 16 bits are served',
      );
      return;
    }
    const window =
      attrs.windowCenter !== undefined && attrs.windowWidth !== undefined && attrs.windowWidth > 0
        ? { center: attrs.windowCenter, width: attrs.windowWidth }
        : defaultWindow(pixels, attrs.rescaleSlope, attrs.rescaleIntercept);
    const meta: Omit<KeptImage, 'bytes' | 'keptAt'> = {
      instanceKey: image.instanceKey,
      seriesKey: image.seriesKey,
      studyKey: image.studyKey,
      patientKey: image.patientKey,
      studyDate: image.studyDate,
      laterality: image.laterality,
      view: image.view,
      modality: image.modality,
      rows: attrs.rows,
      columns: attrs.columns,
      bitsAllocated: bits,
      bitsStored: Math.min(attrs.bitsStored, bits),
      pixelRepresentation: attrs.pixelRepresentation,
      photometric,
      rescaleSlope: attrs.rescaleSlope,
      rescaleIntercept: attrs.rescaleIntercept,
      windowCenter: window.center,
      windowWidth: window.width,
      pixelSpacingMm: attrs.pixelSpacingMm ?? null,
    };
    try {
      await this.store.keep(meta, new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.byteLength));
    } catch (error) {
      this.logger.warn({ instanceKey: image.instanceKey, err: (error as Error).message }, 'could not keep the image for viewing');
    }
  }
}
