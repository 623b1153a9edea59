import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VigilError } from '@vigil/shared';
import type { DatasetAdapter, LesionType, SourceImage, SourceLesion, SourceWoman } from './dataset-types.js';
import { parsePgm } from './pgm.js';

const CLASSES: Record<string, LesionType | null> = {
  NORM: null,
  CALC: 'calcification-cluster',
  CIRC: 'circumscribed-mass',
  SPIC: 'spiculated-mass',
  MISC: 'ill-defined-mass',
  ARCH: 'architectural-distortion',
  ASYM: 'asymmetry',
};
/** mini-MIAS: 200 µm pixels (the "mini" reduction of the 50 µm scans). */
const SPACING_MM = 0.2;

export interface MiasTruthLine {
  refnum: string;
  line: number;
  background: string;
  lesion:
    | { type: LesionType; severity: 'B' | 'M'; x: number; y: number; radius: number }
    | { type: LesionType; severity: 'B' | 'M' }
    | null;
}

/**
 * Parses Info.txt (`REFNUM BG CLASS [SEVERITY [X Y RADIUS]]`, one line per abnormality, NORM alone);
 * any other shape is VIGIL_DATASET_TRUTH_INVALID naming the line.
 */
export function parseMiasInfo(text: string, file = 'Info.txt'): MiasTruthLine[] {
  const out: MiasTruthLine[] = [];
  for (const [k, raw] of text.split(/\r?\n/).entries()) {
    const line = k + 1;
    const fields = raw.trim().split(/\s+/).filter(Boolean);
    if (fields.length === 0) continue;
    const bad = (why: string) =>
      new VigilError('VIGIL_DATASET_TRUTH_INVALID', `${file} line ${line}: ${why} (${raw.trim().slice(0, 60)})`);
    const [refnum = '', background = '', cls = '', severity, x, y, radius] = fields;
    if (!/^mdb\d{3}$/.test(refnum)) throw bad('the reference number is not mdbNNN');
    if (!['F', 'G', 'D'].includes(background)) throw bad('background tissue must be F, G or D');
    if (!(cls in CLASSES)) throw bad(`unknown class ${cls}`);
    const type = CLASSES[cls] ?? null;
    if (type === null) {
      if (fields.length !== 3) throw bad('a NORM line has no more fields');
      out.push({ refnum, line, background, lesion: null });
      continue;
    }
    if (severity !== 'B' && severity !== 'M') throw bad('severity must be B or M');
    if (fields.length === 4) {
      out.push({ refnum, line, background, lesion: { type, severity } });
      continue;
    }
    if (fields.length !== 7) throw bad(`${fields.length} fields: expected 3, 4 or 7`);
    const numbers = [x, y, radius].map(Number);
    if (numbers.some((n) => !Number.isFinite(n) || n < 0 || n > 4096)) throw bad('X, Y and RADIUS must be pixel counts');
    const [cx, cy, r] = numbers as [number, number, number];
    if (r === 0) throw bad('a radius of 0');
    out.push({ refnum, line, background, lesion: { type, severity, x: cx, y: cy, radius: r } });
  }
  return out;
}

function womanOf(refnum: string): string {
  // mdb001/mdb002 are one woman's two breasts, mdb003/mdb004 the next one's, and so on.
  return `MIAS-W${String(Math.ceil(Number(refnum.slice(3)) / 2)).padStart(4, '0')}`;
}

/** mini-MIAS (training part): 8-bit PGM film scans, MLO, truth in Info.txt. */
export const miasAdapter: DatasetAdapter = {
  name: 'mias',
  provenance: {
    citation:
      'J. Suckling et al. (1994), "The Mammographic Image Analysis Society Digital Mammogram Database", Exerpta Medica, International Congress Series 1069, pp. 375–378.',
    licence: 'MIAS licence: research use only; not to be rented, leased or sold (Licence.txt).',
  },
  detect: (dir) => existsSync(join(dir, 'Info.txt')) && existsSync(join(dir, 'Licence.txt')),
  async women(dir) {
    return [...new Set(parseMiasInfo(readFileSync(join(dir, 'Info.txt'), 'utf8')).map((l) => womanOf(l.refnum)))].sort();
  },
  async *read(dir, options = {}) {
    const truth = parseMiasInfo(readFileSync(join(dir, 'Info.txt'), 'utf8'), join(dir, 'Info.txt'));
    const byImage = new Map<string, MiasTruthLine[]>();
    for (const t of truth) byImage.set(t.refnum, [...(byImage.get(t.refnum) ?? []), t]);
    const byWoman = new Map<string, string[]>();
    for (const refnum of [...byImage.keys()].sort()) {
      const w = womanOf(refnum);
      if (options.onlyWomen && !options.onlyWomen.has(w)) continue;
      byWoman.set(w, [...(byWoman.get(w) ?? []), refnum]);
    }
    for (const [womanId, refnums] of byWoman) {
      const images: SourceImage[] = [];
      for (const refnum of refnums) {
        const lines = byImage.get(refnum) ?? [];
        const file = join(dir, `${refnum}.pgm`);
        let bytes: Buffer;
        try {
          bytes = readFileSync(file);
        } catch (error) {
          throw new VigilError('VIGIL_DATASET_IMAGE_UNREADABLE', `${file}: ${(error as Error).message}`);
        }
        const pgm = parsePgm(bytes, file);
        const lesions: SourceLesion[] = [];
        const unlocated: LesionType[] = [];
        for (const l of lines) {
          if (!l.lesion) continue;
          if (!('x' in l.lesion)) {
            unlocated.push(l.lesion.type);
            continue;
          }
          // Info.txt's origin is the bottom-left corner.
          lesions.push({
            type: l.lesion.type,
            severity: l.lesion.severity,
            xPx: l.lesion.x,
            yPx: pgm.rows - 1 - l.lesion.y,
            diameterPx: 2 * l.lesion.radius,
          });
        }
        images.push({
          id: refnum,
          // Odd numbers are a woman's left breast, even her right (the films' own L/R markers agree).
          laterality: Number(refnum.slice(3)) % 2 === 1 ? 'L' : 'R',
          view: 'MLO',
          rows: pgm.rows,
          columns: pgm.columns,
          pixels: pgm.pixels,
          bitsStored: pgm.maxValue > 255 ? 16 : 8,
          pixelSpacingMm: SPACING_MM,
          spacingEstimated: false,
          burnedInAnnotation: true,
          acquisition: 'film',
          lossy: false,
          lesions,
          unlocated,
          density: lines[0]?.background ?? '',
        });
      }
      yield { womanId, images } satisfies SourceWoman;
    }
  },
};
