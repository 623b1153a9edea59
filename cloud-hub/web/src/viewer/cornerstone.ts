import { Enums, imageLoader, init as initCore, metaData, RenderingEngine, type Types } from '@cornerstonejs/core';
import {
  addTool,
  init as initTools,
  PanTool,
  Enums as ToolEnums,
  ToolGroupManager,
  WindowLevelTool,
  ZoomTool,
} from '@cornerstonejs/tools';
import { type EdgeImage, framePart } from './edge-images.js';

/**
 * Cornerstone3D, the library OHIF is built on (ADR 0027), set up once: a `vigil:` image loader that
 * fetches a frame from the clinic's edge with its token, a metadata provider answering from the
 * edge's DICOM JSON, and one tool group (window/level on the left button, pan on the middle, zoom on
 * the right and the wheel) for every viewport.
 */
const known = new Map<string, EdgeImage>();
/** Whether the chest wall is on the image's left (more tissue at the left edge than the right). */
const chestWallLeft = new Map<string, boolean>();

/** How long each frame took: fetch (request to last byte) and preparation (one pass over the pixels), ms. */
export const frameTimings = new Map<string, { fetchMs: number; prepareMs: number }>();

export function chestWallOnLeft(imageId: string): boolean | undefined {
  return chestWallLeft.get(imageId);
}

function edgeMeans(pixels: ArrayLike<number>, rows: number, columns: number): [number, number] {
  const band = Math.max(1, Math.floor(columns * 0.05));
  let left = 0;
  let right = 0;
  for (let y = 0; y < rows; y += 4) {
    for (let x = 0; x < band; x++) {
      left += pixels[y * columns + x] as number;
      right += pixels[y * columns + columns - 1 - x] as number;
    }
  }
  return [left, right];
}
let engine: RenderingEngine | undefined;
export const TOOL_GROUP = 'vigil-reading';

export function registerImages(images: readonly EdgeImage[]): void {
  for (const i of images) known.set(i.imageId, i);
}

function plane(i: EdgeImage) {
  const [row, column] = i.pixelSpacing;
  return {
    frameOfReferenceUID: i.instanceUid,
    rows: i.rows,
    columns: i.columns,
    imageOrientationPatient: [1, 0, 0, 0, 1, 0],
    rowCosines: [1, 0, 0],
    columnCosines: [0, 1, 0],
    imagePositionPatient: [0, 0, 0],
    pixelSpacing: [row, column],
    rowPixelSpacing: row,
    columnPixelSpacing: column,
    sliceThickness: 1,
    sliceLocation: 0,
  };
}

function provider(type: string, imageId: string): unknown {
  const i = known.get(imageId);
  if (!i) return undefined;
  switch (type) {
    case 'imagePlaneModule':
      return plane(i);
    case 'imagePixelModule':
      return {
        samplesPerPixel: 1,
        photometricInterpretation: i.photometric,
        rows: i.rows,
        columns: i.columns,
        bitsAllocated: i.bitsAllocated,
        bitsStored: i.bitsAllocated,
        highBit: i.bitsAllocated - 1,
        pixelRepresentation: i.pixelRepresentation,
      };
    case 'generalSeriesModule':
      return { modality: 'MG', seriesInstanceUID: i.instanceUid };
    case 'voiLutModule':
      return { windowCenter: [i.windowCenter], windowWidth: [i.windowWidth] };
    case 'modalityLutModule':
      return { rescaleSlope: i.rescaleSlope, rescaleIntercept: i.rescaleIntercept };
    case 'generalImageModule':
      return { instanceNumber: 1 };
    default:
      return undefined;
  }
}

/**
 * Frames in flight at once: two, first asked first served. The frames share one link and one
 * main thread; four at once would delay the first image until all four had nearly arrived.
 */
const FRAMES_IN_FLIGHT = 2;
let inFlight = 0;
const waiting: (() => void)[] = [];
async function slot<T>(work: () => Promise<T>): Promise<T> {
  if (inFlight >= FRAMES_IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
  inFlight++;
  try {
    return await work();
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

function loadEdgeFrame(imageId: string): { promise: Promise<Types.IImage> } {
  const promise = slot(async () => {
    const i = known.get(imageId);
    if (!i) throw new Error(`unknown image ${imageId}`);
    const asked = performance.now();
    const response = await fetch(i.frameUrl, {
      headers: { authorization: `Bearer ${i.bearer}`, accept: 'multipart/related; type="application/octet-stream"' },
    });
    if (!response.ok) throw new Error(`the edge answered HTTP ${response.status}`);
    const bytes = await response.arrayBuffer();
    const arrived = performance.now();
    const body = framePart(bytes, response.headers.get('content-type') ?? '');
    const pixels =
      i.bitsAllocated === 8 ? new Uint8Array(body) : i.pixelRepresentation === 1 ? new Int16Array(body) : new Uint16Array(body);
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let k = 0; k < pixels.length; k++) {
      const v = pixels[k] as number;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const [left, right] = edgeMeans(pixels, i.rows, i.columns);
    chestWallLeft.set(imageId, i.photometric === 'MONOCHROME1' ? left < right : left > right);
    frameTimings.set(imageId, { fetchMs: arrived - asked, prepareMs: performance.now() - arrived });
    const image = {
      imageId,
      minPixelValue: min,
      maxPixelValue: max,
      slope: i.rescaleSlope,
      intercept: i.rescaleIntercept,
      windowCenter: i.windowCenter,
      windowWidth: i.windowWidth,
      voiLUTFunction: Enums.VOILUTFunctionType.LINEAR,
      getPixelData: () => pixels,
      getCanvas: () => {
        throw new Error('no canvas for a greyscale frame');
      },
      rows: i.rows,
      columns: i.columns,
      height: i.rows,
      width: i.columns,
      color: false,
      rgba: false,
      numberOfComponents: 1,
      columnPixelSpacing: i.pixelSpacing[1],
      rowPixelSpacing: i.pixelSpacing[0],
      invert: i.photometric === 'MONOCHROME1',
      photometricInterpretation: i.photometric,
      sizeInBytes: pixels.byteLength,
      dataType: pixels instanceof Uint8Array ? 'Uint8Array' : pixels instanceof Int16Array ? 'Int16Array' : 'Uint16Array',
    };
    return image as unknown as Types.IImage;
  });
  return { promise };
}

/** The rendering engine, made on first use (Cornerstone picks WebGL, or its CPU path without one). */
export function renderingEngine(): RenderingEngine {
  if (engine) return engine;
  initCore();
  initTools();
  imageLoader.registerImageLoader('vigil', loadEdgeFrame as unknown as Types.ImageLoaderFn);
  metaData.addProvider(provider, 10_000);
  for (const tool of [WindowLevelTool, PanTool, ZoomTool]) addTool(tool);
  const group = ToolGroupManager.createToolGroup(TOOL_GROUP);
  if (group) {
    for (const tool of [WindowLevelTool, PanTool, ZoomTool]) group.addTool(tool.toolName);
    group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
    group.setToolActive(PanTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Auxiliary }] });
    group.setToolActive(ZoomTool.toolName, {
      bindings: [{ mouseButton: ToolEnums.MouseBindings.Secondary }, { mouseButton: ToolEnums.MouseBindings.Wheel }],
    });
  }
  engine = new RenderingEngine('vigil-viewer');
  return engine;
}

/** Left button: window/level, or (adding a missed finding) nothing, so a click is only a click. */
export function setPlacing(placing: boolean): void {
  const group = ToolGroupManager.getToolGroup(TOOL_GROUP);
  if (!group) return;
  if (placing) group.setToolPassive(WindowLevelTool.toolName);
  else group.setToolActive(WindowLevelTool.toolName, { bindings: [{ mouseButton: ToolEnums.MouseBindings.Primary }] });
}
