// A public mammography dataset as the rest of Vigil takes it: women, their images (pixels, view,
// laterality, spacing) and the truth about each image (located lesions, and lesions the dataset
// names without a place). One adapter per dataset reads its own layout into these types; the
// converter writes every adapter's output the same way (DICOM MG + truth.json), so training,
// `npm run evaluate`, the demo and the edge's intake take a real dataset exactly as a phantom cohort.

/** Lesion classes across datasets (the phantoms' three, and what real datasets add). */
export type LesionType =
  | 'circumscribed-mass'
  | 'spiculated-mass'
  | 'ill-defined-mass'
  | 'mass'
  | 'calcification-cluster'
  | 'architectural-distortion'
  | 'asymmetry'
  | 'malignant-lesion';

export interface SourceLesion {
  type: LesionType;
  /** B benign, M malignant, or unknown. */
  severity: 'B' | 'M' | 'U';
  /** Centre in pixels of the source image (origin top-left), and the diameter in pixels. */
  xPx: number;
  yPx: number;
  diameterPx: number;
}

export interface SourceImage {
  /** The dataset's own name for the image (file stem), for error messages and provenance. */
  id: string;
  laterality: 'L' | 'R';
  view: 'CC' | 'MLO';
  rows: number;
  columns: number;
  /** Greyscale samples, row-major: 8-bit (film scans, JPEG) or 16-bit. */
  pixels: Uint8Array | Uint16Array;
  bitsStored: number;
  /** Pixel spacing in mm, and whether the dataset only lets it be estimated. */
  pixelSpacingMm: number;
  spacingEstimated: boolean;
  /** Film scans carry labels and markers burned in. */
  burnedInAnnotation: boolean;
  /** Digitised film or a digital detector. */
  acquisition: 'film' | 'digital';
  /** The dataset's pixels went through lossy compression (JPEG). */
  lossy: boolean;
  lesions: SourceLesion[];
  /** Lesions the dataset names for this image without a position (diffuse calcifications). */
  unlocated: LesionType[];
  /** Background tissue as the dataset codes it (e.g. F, G, D; ACR a–d), or ''. */
  density: string;
}

export interface SourceWoman {
  /** The dataset's id for the woman: every split is by this. */
  womanId: string;
  images: SourceImage[];
}

/**
 * One dataset: recognises its folder and reads it. Malformed truth is VIGIL_DATASET_TRUTH_INVALID
 * naming the file and line; an image that cannot be read is VIGIL_DATASET_IMAGE_UNREADABLE naming
 * the file. `onlyWomen` limits what is read (a fold, a quick check).
 */
export interface DatasetAdapter {
  readonly name: string;
  /** The dataset's citation and licence, for the model card and the converted cohort. */
  readonly provenance: { citation: string; licence: string };
  detect(dir: string): boolean;
  /** The women of the dataset, without pixels (cheap: for splits). */
  women(dir: string): Promise<string[]>;
  read(dir: string, options?: { onlyWomen?: ReadonlySet<string> }): AsyncIterable<SourceWoman>;
}
