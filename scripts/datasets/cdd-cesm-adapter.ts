import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '@vigil/shared';
import { parse } from 'csv-parse/sync';
import sharp, { type OutputInfo } from 'sharp';
import type { DatasetAdapter, LesionType, SourceImage, SourceLesion, SourceWoman } from './dataset-types.js';

/**
 * The detector's pixel spacing assumed for CDD-CESM's originals (0.1 mm: the collection does not
 * ship it); the effective spacing of a 512-pixel image is this × the original's long side / 512.
 */
const ORIGINAL_SPACING_MM = 0.1;
const FRAME = 512;
/** Mask components larger than a quarter of the frame are skin-line bands or diffuse enhancement. */
const MAX_FOCAL_AREA_PX = (FRAME * FRAME) / 4;
const MIN_AREA_PX = 30;

interface LabelRow {
  filename: string;
  patient_id: string;
  side: string;
  view: string;
  image_type: string;
  acr_density: string;
  tags: string;
  findings: string;
  est_orig_long_side_px: string;
}

interface BoxRow {
  filename: string;
  x_min: string;
  y_min: string;
  x_max: string;
  y_max: string;
  area_px: string;
}

function csvRows<T>(path: string, columns: readonly string[]): T[] {
  let rows: Record<string, string>[];
  try {
    rows = parse(readFileSync(path, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[];
  } catch (error) {
    throw new VigilError('VIGIL_DATASET_TRUTH_INVALID', `${path}: not valid CSV: ${(error as Error).message}`);
  }
  const missing = columns.filter((c) => rows.length > 0 && !(c in (rows[0] as object)));
  if (missing.length > 0)
    throw new VigilError('VIGIL_DATASET_TRUTH_INVALID', `${path} line 1: the header lacks ${missing.join(', ')}`);
  return rows as T[];
}

/** The lesion class from the radiologists' free-text tags. */
export function cddLesionType(text: string): LesionType {
  const t = text.toLowerCase();
  if (/spec|spic/.test(t)) return 'spiculated-mass';
  if (/mass/.test(t)) return 'mass';
  if (/distortion/.test(t)) return 'architectural-distortion';
  if (/calcif/.test(t)) return 'calcification-cluster';
  if (/asymmetr/.test(t)) return 'asymmetry';
  return 'malignant-lesion';
}

/** Outline pieces this close (pixels) belong to one lesion (a calcification cluster, a fragmented outline). */
const MERGE_GAP_PX = 12;

type Region = { x0: number; y0: number; x1: number; y1: number; area: number };

/** Merges outline regions whose boxes lie within MERGE_GAP_PX of each other, until none do. */
export function mergeRegions(regions: readonly Region[]): Region[] {
  const out = regions.map((r) => ({ ...r }));
  const near = (a: Region, b: Region) =>
    a.x0 - MERGE_GAP_PX <= b.x1 && b.x0 - MERGE_GAP_PX <= a.x1 && a.y0 - MERGE_GAP_PX <= b.y1 && b.y0 - MERGE_GAP_PX <= a.y1;
  for (let merged = true; merged; ) {
    merged = false;
    for (let i = 0; i < out.length && !merged; i += 1) {
      for (let j = i + 1; j < out.length && !merged; j += 1) {
        const a = out[i] as Region;
        const b = out[j] as Region;
        if (!near(a, b)) continue;
        out[i] = {
          x0: Math.min(a.x0, b.x0),
          y0: Math.min(a.y0, b.y0),
          x1: Math.max(a.x1, b.x1),
          y1: Math.max(a.y1, b.y1),
          area: a.area + b.area,
        };
        out.splice(j, 1);
        merged = true;
      }
    }
  }
  return out;
}

const LABEL_COLUMNS = ['filename', 'patient_id', 'side', 'view', 'image_type', 'tags', 'est_orig_long_side_px'] as const;

/** CDD-CESM (malignant subset, 512 × 512 JPEG): the low-energy images, which are ordinary digital mammograms. */
export const cddCesmAdapter: DatasetAdapter = {
  name: 'cdd-cesm',
  provenance: {
    citation:
      'Khaled R. et al. (2021), Categorized Digital Database for Low energy and Subtracted Contrast Enhanced Spectral Mammography images [Data set], The Cancer Imaging Archive, https://doi.org/10.7937/29kw-ae92; Khaled R. et al. (2022), Scientific Data 9:122.',
    licence: 'CC BY 4.0, subject to the TCIA Data Usage Policy (LICENSE-NOTE.txt).',
  },
  detect: (dir) => existsSync(join(dir, 'labels.csv')) && existsSync(join(dir, 'boxes_from_masks.csv')),
  async women(dir) {
    const rows = csvRows<LabelRow>(join(dir, 'labels.csv'), LABEL_COLUMNS);
    return [...new Set(rows.filter((r) => r.image_type === 'low_energy_DM').map((r) => `CDD-P${r.patient_id}`))].sort();
  },
  async *read(dir, options = {}) {
    const labelsFile = join(dir, 'labels.csv');
    const labels = csvRows<LabelRow>(labelsFile, LABEL_COLUMNS);
    const boxes = csvRows<BoxRow>(join(dir, 'boxes_from_masks.csv'), ['filename', 'x_min', 'y_min', 'x_max', 'y_max', 'area_px']);
    const boxesOf = new Map<string, BoxRow[]>();
    for (const b of boxes) boxesOf.set(b.filename, [...(boxesOf.get(b.filename) ?? []), b]);
    const byWoman = new Map<string, { row: LabelRow; line: number }[]>();
    for (const [k, row] of labels.entries()) {
      // Subtracted contrast images are not mammograms: the edge never sees them, so neither does this.
      if (row.image_type !== 'low_energy_DM') continue;
      const line = k + 2;
      const bad = (why: string) => new VigilError('VIGIL_DATASET_TRUTH_INVALID', `${labelsFile} line ${line}: ${why}`);
      if (!/^\d+$/.test(row.patient_id)) throw bad(`patient_id ${JSON.stringify(row.patient_id)} is not a number`);
      if (row.side !== 'L' && row.side !== 'R') throw bad(`side must be L or R, not ${JSON.stringify(row.side)}`);
      if (row.view !== 'CC' && row.view !== 'MLO') throw bad(`view must be CC or MLO, not ${JSON.stringify(row.view)}`);
      const womanId = `CDD-P${row.patient_id}`;
      if (options.onlyWomen && !options.onlyWomen.has(womanId)) continue;
      byWoman.set(womanId, [...(byWoman.get(womanId) ?? []), { row, line }]);
    }
    for (const [womanId, rows] of byWoman) {
      const images: SourceImage[] = [];
      for (const { row, line } of rows) {
        const file = join(dir, 'images', row.filename);
        let raw: { data: Buffer; info: OutputInfo };
        try {
          raw = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
        } catch (error) {
          throw new VigilError(
            'VIGIL_DATASET_IMAGE_UNREADABLE',
            `${file} (labels.csv line ${line}): ${(error as Error).message}`,
          );
        }
        const longSide = Number(row.est_orig_long_side_px);
        // Six decimals: what DS holds, so the truth and the DICOM file give the same spacing.
        const spacing = Number(
          ((ORIGINAL_SPACING_MM * (Number.isFinite(longSide) && longSide > 0 ? longSide : 2300)) / raw.info.width).toFixed(6),
        );
        const regions: { x0: number; y0: number; x1: number; y1: number; area: number }[] = [];
        for (const b of boxesOf.get(row.filename) ?? []) {
          const [x0, y0, x1, y1, area] = [b.x_min, b.y_min, b.x_max, b.y_max, b.area_px].map(Number) as [
            number,
            number,
            number,
            number,
            number,
          ];
          if ([x0, y0, x1, y1, area].some((n) => !Number.isFinite(n)) || x1 < x0 || y1 < y0) {
            throw new VigilError('VIGIL_DATASET_TRUTH_INVALID', `boxes_from_masks.csv: the box of ${row.filename} is not a box`);
          }
          if (area > MAX_FOCAL_AREA_PX || area < MIN_AREA_PX) continue;
          regions.push({ x0, y0, x1, y1, area });
        }
        const lesions: SourceLesion[] = mergeRegions(regions).map((r) => ({
          type: cddLesionType(`${row.tags} ${row.findings}`),
          severity: 'M' as const,
          xPx: (r.x0 + r.x1) / 2,
          yPx: (r.y0 + r.y1) / 2,
          // The outline's size: the larger of its box's mean side and its area as a disc.
          diameterPx: Math.max((r.x1 - r.x0 + r.y1 - r.y0) / 2, 2 * Math.sqrt(r.area / Math.PI)),
        }));
        images.push({
          id: row.filename.replace(/\.jpg$/, ''),
          laterality: row.side as 'L' | 'R',
          view: row.view as 'CC' | 'MLO',
          rows: raw.info.height,
          columns: raw.info.width,
          pixels: new Uint8Array(raw.data.buffer, raw.data.byteOffset, raw.data.length),
          bitsStored: 8,
          pixelSpacingMm: spacing,
          spacingEstimated: true,
          burnedInAnnotation: false,
          acquisition: 'digital',
          lossy: true,
          lesions,
          unlocated: [],
          density: /^[A-D]$/.test(row.acr_density) ? row.acr_density : '',
        });
      }
      yield { womanId, images } satisfies SourceWoman;
    }
  },
};
