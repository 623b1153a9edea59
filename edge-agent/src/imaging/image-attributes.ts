import { VigilError } from '@vigil/shared';
import type { DataSet } from './dicom-file.js';

/** A VOI LUT (PS3.3 C.11.2.1.1): entries map values from firstMapped upward. */
export interface VoiLut {
  firstMapped: number;
  bits: number;
  data: Uint16Array;
}

/** How an image was acquired, as far as a model cares: scanned film or a digital detector. */
export type Acquisition = 'film' | 'digital';

/** Image Pixel module (PS3.3 C.7.6.3) plus the LUT and geometry attributes the pipeline uses. */
export interface ImageAttributes {
  sopInstanceUid: string;
  sopClassUid: string;
  modality: string;
  rows: number;
  columns: number;
  frames: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  planarConfiguration: 0 | 1;
  photometric: string;
  rescaleSlope: number;
  rescaleIntercept: number;
  windowCenter: number | undefined;
  windowWidth: number | undefined;
  voiLutFunction: 'LINEAR' | 'LINEAR_EXACT' | 'SIGMOID';
  voiLut: VoiLut | undefined;
  /** Imager or pixel spacing in mm (row, column), when present. */
  pixelSpacingMm: [number, number] | undefined;
  /** View Position (0018,5101), e.g. MLO or CC, upper case; undefined when absent. */
  viewPosition?: string;
  /**
   * Scanned film when Detector Type (0018,7004) is FILM or Conversion Type (0008,0064) is DF
   * (digitized film); digital otherwise.
   */
  acquisition: Acquisition;
}

function numberOr(dataSet: DataSet, tag: string, fallback: number): number {
  const text = dataSet.string(tag);
  if (text === undefined || text.trim() === '') return fallback;
  const value = Number.parseFloat(text.split('\\')[0] ?? '');
  return Number.isFinite(value) ? value : fallback;
}

/** The first item of the VOI LUT Sequence (0028,3010), if any. */
function voiLut(dataSet: DataSet, signed: boolean): VoiLut | undefined {
  const item = dataSet.elements.x00283010?.items?.[0]?.dataSet;
  const data = item?.elements.x00283006;
  if (!item || !data) return undefined;
  const entries = item.uint16('x00283002', 0) || 65536;
  const firstMapped = signed ? (item.int16('x00283002', 1) ?? 0) : (item.uint16('x00283002', 1) ?? 0);
  const bits = item.uint16('x00283002', 2) ?? 16;
  const table = new Uint16Array(entries);
  const wide = data.length >= entries * 2;
  for (let i = 0; i < entries; i++)
    table[i] = wide ? (item.uint16('x00283006', i) ?? 0) : (item.byteArray[data.dataOffset + i] ?? 0);
  return { firstMapped, bits, data: table };
}

function voiFunction(dataSet: DataSet): ImageAttributes['voiLutFunction'] {
  const fn = (dataSet.string('x00281056') ?? '').trim().toUpperCase();
  return fn === 'SIGMOID' || fn === 'LINEAR_EXACT' ? fn : 'LINEAR';
}

function spacing(dataSet: DataSet): [number, number] | undefined {
  for (const tag of ['x00181164', 'x00280030']) {
    const parts = (dataSet.string(tag) ?? '').split('\\').map(Number);
    if (parts.length === 2 && parts.every((p) => Number.isFinite(p) && p > 0)) return parts as [number, number];
  }
  return undefined;
}

function viewPosition(dataSet: DataSet): { viewPosition?: string } {
  const view = (dataSet.string('x00185101') ?? '').trim().toUpperCase();
  return view ? { viewPosition: view } : {};
}

function acquisition(dataSet: DataSet): Acquisition {
  const detector = (dataSet.string('x00187004') ?? '').trim().toUpperCase();
  const conversion = (dataSet.string('x00080064') ?? '').trim().toUpperCase();
  return detector === 'FILM' || conversion === 'DF' ? 'film' : 'digital';
}

export function readImageAttributes(dataSet: DataSet): ImageAttributes {
  const rows = dataSet.uint16('x00280010');
  const columns = dataSet.uint16('x00280011');
  const bitsAllocated = dataSet.uint16('x00280100');
  if (!dataSet.elements.x7fe00010 || !rows || !columns || !bitsAllocated) {
    throw new VigilError('VIGIL_DICOM_NO_PIXEL_DATA', 'no Pixel Data (7FE0,0010) or no Rows/Columns/Bits Allocated');
  }
  const bitsStored = dataSet.uint16('x00280101') ?? bitsAllocated;
  const pixelRepresentation = dataSet.uint16('x00280103') === 1 ? 1 : 0;
  const samplesPerPixel = dataSet.uint16('x00280002') ?? 1;
  const photometric = (dataSet.string('x00280004') ?? (samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2')).trim();
  if (![8, 16, 32].includes(bitsAllocated)) {
    throw new VigilError('VIGIL_DICOM_UNSUPPORTED_IMAGE', `Bits Allocated ${bitsAllocated} is not supported (8, 16 or 32)`);
  }
  if (bitsStored < 1 || bitsStored > bitsAllocated) {
    throw new VigilError(
      'VIGIL_DICOM_UNSUPPORTED_IMAGE',
      `Bits Stored ${bitsStored} does not fit Bits Allocated ${bitsAllocated}`,
    );
  }
  if (samplesPerPixel !== 1 && samplesPerPixel !== 3) {
    throw new VigilError('VIGIL_DICOM_UNSUPPORTED_IMAGE', `Samples per Pixel ${samplesPerPixel} is not supported`);
  }
  if (photometric === 'PALETTE COLOR') {
    throw new VigilError('VIGIL_DICOM_UNSUPPORTED_IMAGE', 'palette colour images are not supported');
  }
  const windowCenter = dataSet.string('x00281050');
  const windowWidth = dataSet.string('x00281051');
  return {
    sopInstanceUid: (dataSet.string('x00080018') ?? '').trim(),
    sopClassUid: (dataSet.string('x00080016') ?? '').trim(),
    modality: (dataSet.string('x00080060') ?? '').trim(),
    rows,
    columns,
    frames: Math.max(1, Math.floor(numberOr(dataSet, 'x00280008', 1))),
    samplesPerPixel,
    bitsAllocated,
    bitsStored,
    highBit: dataSet.uint16('x00280102') ?? bitsStored - 1,
    pixelRepresentation,
    planarConfiguration: dataSet.uint16('x00280006') === 1 ? 1 : 0,
    photometric,
    rescaleSlope: numberOr(dataSet, 'x00281053', 1),
    rescaleIntercept: numberOr(dataSet, 'x00281052', 0),
    windowCenter: windowCenter ? numberOr(dataSet, 'x00281050', Number.NaN) : undefined,
    windowWidth: windowWidth ? numberOr(dataSet, 'x00281051', Number.NaN) : undefined,
    voiLutFunction: voiFunction(dataSet),
    voiLut: voiLut(dataSet, pixelRepresentation === 1),
    pixelSpacingMm: spacing(dataSet),
    ...viewPosition(dataSet),
    acquisition: acquisition(dataSet),
  };
}
