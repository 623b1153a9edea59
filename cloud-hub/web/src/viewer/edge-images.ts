import { pseudonymUid } from '../../../../shared/src/pseudonym-uid.js';
import { clinicGrant } from '../reid.js';

/**
 * The clinic's images, asked of the clinic's own edge (DICOMweb, the same hub-signed token as for
 * names). The hub never sees a pixel: it only says which edge holds a result and signs the token.
 */
export interface EdgeImage {
  /** Cornerstone image id: `vigil:` + the frame URL (the loader fetches it with the edge's token). */
  imageId: string;
  frameUrl: string;
  bearer: string;
  instanceUid: string;
  laterality: string;
  view: string;
  rows: number;
  columns: number;
  bitsAllocated: number;
  pixelRepresentation: number;
  photometric: string;
  windowCenter: number;
  windowWidth: number;
  rescaleSlope: number;
  rescaleIntercept: number;
  /** Row, column (mm). */
  pixelSpacing: [number, number];
}

export type StudyImages =
  | { ok: true; images: EdgeImage[] }
  | { ok: false; reason: 'no-edge' | 'unreachable' | 'refused' | 'not-held'; status?: number };

type DicomJson = Record<string, { Value?: unknown[]; BulkDataURI?: string }>;
const first = (j: DicomJson, tag: string): unknown => j[tag]?.Value?.[0];
const num = (j: DicomJson, tag: string, fallback: number): number => {
  const v = Number(first(j, tag));
  return Number.isFinite(v) ? v : fallback;
};

const studies = new Map<string, Promise<StudyImages>>();

async function fetchStudy(deviceId: string, studyKey: string): Promise<StudyImages> {
  const grant = await clinicGrant();
  const edge = grant?.edges.find((e) => e.deviceId === deviceId);
  if (!edge) return { ok: false, reason: 'no-edge' };
  let response: Response;
  try {
    response = await fetch(`${edge.url}/dicomweb/studies/${pseudonymUid(studyKey)}/metadata`, {
      headers: { authorization: `Bearer ${edge.token}`, accept: 'application/dicom+json' },
      signal: AbortSignal.timeout(5000),
    });
  } catch {
    return { ok: false, reason: 'unreachable' };
  }
  if (response.status === 404) return { ok: false, reason: 'not-held', status: 404 };
  if (!response.ok) return { ok: false, reason: 'refused', status: response.status };
  const json = (await response.json()) as DicomJson[];
  return {
    ok: true,
    images: json.map((j) => {
      const frameUrl = j['7FE00010']?.BulkDataURI ?? '';
      const spacing = (j['00280030']?.Value as number[] | undefined) ?? [];
      return {
        imageId: `vigil:${frameUrl}`,
        frameUrl,
        bearer: edge.token,
        instanceUid: String(first(j, '00080018')),
        laterality: String(first(j, '00200062') ?? 'U') || 'U',
        view: String(first(j, '00185101') ?? ''),
        rows: num(j, '00280010', 0),
        columns: num(j, '00280011', 0),
        bitsAllocated: num(j, '00280100', 16),
        pixelRepresentation: num(j, '00280103', 0),
        photometric: String(first(j, '00280004') ?? 'MONOCHROME2'),
        windowCenter: num(j, '00281050', 2048),
        windowWidth: num(j, '00281051', 4096),
        rescaleSlope: num(j, '00281053', 1),
        rescaleIntercept: num(j, '00281052', 0),
        pixelSpacing: [Number(spacing[0]) || 0.1, Number(spacing[1]) || 0.1],
      };
    }),
  };
}

/** A study's images from the edge that analysed it; failures are kept for a few seconds only. */
export function studyImages(deviceId: string, studyKey: string): Promise<StudyImages> {
  const key = `${deviceId}/${studyKey}`;
  let pending = studies.get(key);
  if (!pending) {
    pending = fetchStudy(deviceId, studyKey);
    studies.set(key, pending);
    void pending.then((r) => {
      if (!r.ok) setTimeout(() => studies.delete(key), 5000);
    });
  }
  return pending;
}

/** The frame's bytes out of a single-part `multipart/related` WADO-RS answer. */
export function framePart(body: ArrayBuffer, contentType: string): ArrayBuffer {
  const boundary = /boundary="?([^";]+)"?/.exec(contentType)?.[1];
  if (!boundary) return body;
  const bytes = new Uint8Array(body);
  // Headers end at the first blank line; the part ends before "\r\n--boundary--".
  let start = -1;
  for (let i = 0; i + 3 < Math.min(bytes.length, 4096); i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      start = i + 4;
      break;
    }
  }
  if (start < 0) throw new Error('malformed multipart frame');
  const end = bytes.length - `\r\n--${boundary}--\r\n`.length;
  return body.slice(start, end);
}

/** Forgets what was fetched (sign-out). */
export function forgetImages(): void {
  studies.clear();
}
