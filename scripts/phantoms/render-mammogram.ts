import {
  diameterAtVisit,
  type FindingType,
  type Laterality,
  type PlannedFinding,
  type PlannedLookalike,
  type PlannedPatient,
  type View,
} from './cohort-plan.js';
import { powerLawTexture, sampleTexture } from './power-law-texture.js';
import { deriveSeed, Rng } from './random.js';

export interface ImageTruthFinding {
  id: string;
  type: FindingType;
  behaviour: string;
  /** Centre, normalised to the image (0..1), as the edge reports findings. */
  x: number;
  y: number;
  diameterMm: number;
  areaMm2: number;
}

export interface RenderedImage {
  pixels: Uint16Array;
  rows: number;
  columns: number;
  findings: ImageTruthFinding[];
  lookalikes: { id: string; x: number; y: number; diameterMm: number }[];
}

interface Positioning {
  nippleX: number;
  halfHeight: number;
  centreY: number;
}

/** How the breast lies on the detector at this visit: the patient's anatomy plus a small positioning shift. */
function positioning(patient: PlannedPatient, laterality: Laterality, view: View, rng: Rng): Positioning {
  const shiftX = rng.range(-0.015, 0.015);
  const shiftY = rng.range(-0.02, 0.02);
  const nippleX = patient.breastDepth[laterality] + shiftX;
  const halfHeight =
    (view === 'MLO' ? patient.breastHeight[laterality] * 1.15 : patient.breastHeight[laterality]) + rng.range(-0.01, 0.01);
  const centreY = (view === 'MLO' ? 0.56 : 0.5) + shiftY;
  return { nippleX, halfHeight, centreY };
}

/** Breast coordinates (depth from the chest wall, lateral offset) to image-normalised x, y. */
function breastToImage(p: Positioning, laterality: Laterality): (depth: number, offset: number) => { x: number; y: number } {
  return (depth, offset) => {
    const bx = depth * p.nippleX;
    const by = p.centreY + offset * p.halfHeight * Math.sqrt(Math.max(0, 1 - depth * depth)) * 0.85;
    return { x: laterality === 'L' ? 1 - bx : bx, y: by };
  };
}

/**
 * Where the findings and look-alikes of one image are, exactly as `renderMammogram` draws them,
 * without rendering pixels: ground truth for tests that need positions only (e.g. follow-up).
 */
export function imageLayout(o: Omit<RenderOptions, 'rows' | 'columns' | 'pixelSpacingMm'>): {
  findings: ImageTruthFinding[];
  lookalikes: RenderedImage['lookalikes'];
} {
  const rng = new Rng(deriveSeed(o.seed, 'image', o.patient.index, o.laterality, o.view, o.visitIndex));
  const toImage = breastToImage(positioning(o.patient, o.laterality, o.view, rng), o.laterality);
  return {
    findings: visibleFindings(o.patient, o.laterality, o.view, o.visitIndex).map(({ f, diameter }) =>
      truthFinding(f, diameter, toImage(f.depth, o.view === 'CC' ? f.ccOffset : f.mloOffset)),
    ),
    lookalikes: o.patient.lookalikes
      .filter((l) => l.laterality === o.laterality)
      .map((l) => truthLookalike(l, toImage(l.depth, o.view === 'CC' ? l.ccOffset : l.mloOffset))),
  };
}

function visibleFindings(
  patient: PlannedPatient,
  laterality: Laterality,
  _view: View,
  visitIndex: number,
): { f: PlannedFinding; diameter: number }[] {
  const out: { f: PlannedFinding; diameter: number }[] = [];
  if (!patient.visits[visitIndex]) return out;
  for (const f of patient.findings) {
    if (f.laterality !== laterality) continue;
    const diameter = diameterAtVisit(f, patient.visits, visitIndex);
    if (diameter !== undefined) out.push({ f, diameter });
  }
  return out;
}

function truthFinding(f: PlannedFinding, diameter: number, at: { x: number; y: number }): ImageTruthFinding {
  return {
    id: f.id,
    type: f.type,
    behaviour: f.behaviour,
    x: Math.round(at.x * 1e4) / 1e4,
    y: Math.round(at.y * 1e4) / 1e4,
    diameterMm: Math.round(diameter * 100) / 100,
    areaMm2: Math.round(Math.PI * (diameter / 2) ** 2 * 100) / 100,
  };
}

function truthLookalike(l: PlannedLookalike, at: { x: number; y: number }): RenderedImage['lookalikes'][number] {
  return {
    id: l.id,
    x: Math.round(at.x * 1e4) / 1e4,
    y: Math.round(at.y * 1e4) / 1e4,
    diameterMm: Math.round(l.diameterMm * 100) / 100,
  };
}

const DENSITY_AMOUNT = { A: 0.12, B: 0.32, C: 0.58, D: 0.85 } as const;

/** 0..1 with smooth (softplus) knees of width ~0.15 instead of a hard clamp. */
function softClamp01(x: number): number {
  const k = 7;
  const low = Math.log1p(Math.exp(k * x)) / k;
  return 1 - Math.log1p(Math.exp(k * (1 - low))) / k;
}
const MAX = 16383;

export interface RenderOptions {
  patient: PlannedPatient;
  laterality: Laterality;
  view: View;
  visitIndex: number;
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  seed: number;
}

/**
 * Renders one 14-bit "for presentation" mammogram (dense tissue bright): breast outline with a
 * thickness fall-off and skin line, pectoral muscle on MLO, power-law parenchymal texture scaled by
 * the breast density, vessels, then the planned findings and look-alikes, and quantum noise.
 * The chest wall is at the left for R and at the right for L.
 */
export function renderMammogram(o: RenderOptions): RenderedImage {
  const { rows, columns, patient, laterality, view, visitIndex } = o;
  const rng = new Rng(deriveSeed(o.seed, 'image', patient.index, laterality, view, visitIndex));
  // Anatomy is the patient's own (same texture every visit); positioning varies a little per visit.
  const anatomy = new Rng(deriveSeed(o.seed, 'anatomy', patient.index, laterality, view));
  const coarse = powerLawTexture(256, 3, anatomy);
  const fine = powerLawTexture(256, 2, anatomy);
  const { nippleX, halfHeight, centreY } = positioning(patient, laterality, view, rng);
  const pectoralWidth = anatomy.range(0.22, 0.34);
  const pectoralHeight = anatomy.range(0.45, 0.65);
  const density = DENSITY_AMOUNT[patient.density];
  const pixels = new Uint16Array(rows * columns);
  // Coarse texture: one tile spans ~60 % of the image; fine texture: 0.3 mm texels (a 77 mm tile),
  // coarser than any detector pitch, so the texture looks the same at every matrix size.
  // (1.x sampled a 12 mm tile at 3 texels per pixel on coarse matrices: aliased, periodic noise
  // that the full-resolution image did not have.)
  const texelsPerPixelCoarse = (256 / Math.max(rows, columns)) * 1.6;
  const texelsPerPixelFine = o.pixelSpacingMm / 0.3;
  const mirror = laterality === 'L';
  const skin = 2.5 / o.pixelSpacingMm / (nippleX * columns);

  for (let y = 0; y < rows; y++) {
    const ny = y / rows;
    const dy = (ny - centreY) / halfHeight;
    for (let xi = 0; xi < columns; xi++) {
      const x = mirror ? columns - 1 - xi : xi;
      const nx = x / columns;
      const dx = nx / nippleX;
      const r2 = dx * dx + dy * dy;
      let v: number;
      if (r2 > 1) {
        v = 60;
      } else {
        const r = Math.sqrt(r2);
        const thickness = Math.sqrt(1 - r2);
        const tc = sampleTexture(coarse, 256, x * texelsPerPixelCoarse, y * texelsPerPixelCoarse);
        const tf = sampleTexture(fine, 256, x * texelsPerPixelFine, y * texelsPerPixelFine);
        // Glandular tissue concentrates behind the nipple, fading towards chest wall and skin.
        const glandular = Math.exp(-((dx - 0.45) ** 2 / 0.16 + (dy * dy) / 0.45));
        // Fibroglandular tissue as thresholded power-law texture: blobs and strands, more in denser
        // breasts. Soft knees rather than a hard clamp: in projection, tissue margins are blurred by
        // the overlying tissue (a hard clamp drew sharp-edged blobs that looked like masses).
        const parenchyma = softClamp01(glandular * (0.35 + density) + (0.25 + 0.35 * density) * tc - 0.25);
        v = 2400 + 3000 * thickness ** 0.55 + 3800 * parenchyma * thickness ** 0.3 + 260 * tf * thickness;
        if (r > 1 - skin) v += 900 * ((r - (1 - skin)) / skin);
        const pectoral = nx / pectoralWidth + ny / pectoralHeight;
        if (view === 'MLO' && pectoral < 1) v = Math.max(v, 7600 + 1200 * (1 - pectoral) + 350 * tc + 150 * tf);
      }
      pixels[y * columns + xi] = v;
    }
  }

  const mmToPx = 1 / o.pixelSpacingMm;
  const toImage = breastToImage({ nippleX, halfHeight, centreY }, laterality);
  const add = (cx: number, cy: number, radiusPx: number, fn: (d: number, angle: number) => number) => {
    const reach = Math.ceil(radiusPx * 2.6) + 2;
    for (let y = Math.max(0, Math.floor(cy - reach)); y < Math.min(rows, Math.ceil(cy + reach)); y++) {
      for (let x = Math.max(0, Math.floor(cx - reach)); x < Math.min(columns, Math.ceil(cx + reach)); x++) {
        const d = Math.hypot(x - cx, y - cy);
        const delta = fn(d, Math.atan2(y - cy, x - cx));
        if (delta !== 0) pixels[y * columns + x] = Math.min(MAX, Math.max(0, (pixels[y * columns + x] as number) + delta));
      }
    }
  };

  // Vessels: a few faint, smooth curves from the chest wall towards the nipple.
  const vessel = new Float32Array(rows * columns);
  for (let k = 0; k < anatomy.int(3, 6); k++) {
    const start = toImage(0.05, anatomy.range(-0.8, 0.8));
    const mid = toImage(anatomy.range(0.3, 0.6), anatomy.range(-0.7, 0.7));
    const end = toImage(anatomy.range(0.7, 0.95), anatomy.range(-0.4, 0.4));
    const width = anatomy.range(0.6, 1.4) * mmToPx;
    for (let t = 0; t <= 1; t += 0.5 / Math.max(rows, columns)) {
      const px = ((1 - t) ** 2 * start.x + 2 * (1 - t) * t * mid.x + t * t * end.x) * columns;
      const py = ((1 - t) ** 2 * start.y + 2 * (1 - t) * t * mid.y + t * t * end.y) * rows;
      const i = Math.round(py) * columns + Math.round(px);
      if (i < 0 || i >= pixels.length) continue;
      for (let w = -Math.ceil(width); w <= Math.ceil(width); w++) {
        const j = i + w * columns;
        // Raise the vessel's profile to a faint level (max, not sum: the curve is sampled densely).
        if (j >= 0 && j < pixels.length && (pixels[j] as number) > 200)
          vessel[j] = Math.max(vessel[j] as number, 160 * (1 - Math.abs(w) / (width + 1)));
      }
    }
  }

  for (let i = 0; i < pixels.length; i++)
    if ((vessel[i] as number) > 0) pixels[i] = Math.min(MAX, (pixels[i] as number) + (vessel[i] as number));

  const findings: ImageTruthFinding[] = [];
  for (const { f, diameter } of visibleFindings(patient, laterality, view, visitIndex)) {
    const at = toImage(f.depth, view === 'CC' ? f.ccOffset : f.mloOffset);
    const cx = at.x * columns;
    const cy = at.y * rows;
    const radius = (diameter / 2) * mmToPx;
    // Masses are a little denser than fibroglandular tissue: their contrast is set against the
    // texture's variation at lesion scale (1.x used 700–1200, about the texture's own amplitude in
    // dense breasts, where even large masses were indistinguishable from tissue blobs).
    const contrast = 1100 + 700 * f.contrast;
    const lesionRng = new Rng(deriveSeed(o.seed, f.id, view));
    if (f.type === 'circumscribed-mass') {
      add(cx, cy, radius, (d) => contrast / (1 + Math.exp((d - radius) / (0.08 * radius + 0.5))));
    } else if (f.type === 'spiculated-mass') {
      const lobes = Array.from({ length: 5 }, () => lesionRng.range(-0.12, 0.12));
      const spicules = Array.from({ length: lesionRng.int(8, 16) }, () => ({
        angle: lesionRng.range(0, 2 * Math.PI),
        length: lesionRng.range(1.4, 2.4),
      }));
      add(cx, cy, radius, (d, angle) => {
        const edge = radius * (1 + lobes.reduce((sum, a, i) => sum + a * Math.sin((i + 2) * angle), 0));
        let value = contrast / (1 + Math.exp((d - edge) / (0.06 * radius + 0.5)));
        for (const s of spicules) {
          const off = Math.abs(Math.sin(angle - s.angle)) * d;
          if (d > edge * 0.8 && d < radius * s.length && Math.cos(angle - s.angle) > 0 && off < 1.2)
            value = Math.max(value, contrast * 0.45 * (1 - d / (radius * s.length)));
        }
        return value;
      });
    } else {
      const dots = lesionRng.int(8, 20);
      for (let k = 0; k < dots; k++) {
        const a = lesionRng.range(0, 2 * Math.PI);
        const rr = Math.sqrt(lesionRng.next()) * radius;
        const dotRadius = lesionRng.range(0.18, 0.32) * mmToPx;
        // Anti-aliased by pixel coverage, so a 0.3–0.6 mm speck keeps its signal at any pitch
        // (1.x drew only pixels whose centre fell inside: on coarse matrices many specks vanished).
        add(cx + rr * Math.cos(a), cy + rr * Math.sin(a), dotRadius, (d) =>
          Math.round(2600 * Math.min(1, Math.max(0, dotRadius + 0.5 - d))),
        );
      }
    }
    findings.push(truthFinding(f, diameter, at));
  }
  const lookalikes = [];
  for (const l of patient.lookalikes) {
    if (l.laterality !== laterality) continue;
    const at = toImage(l.depth, view === 'CC' ? l.ccOffset : l.mloOffset);
    const radius = (l.diameterMm / 2) * mmToPx;
    // Intramammary lymph node: an oval with a radiolucent (fatty) hilum.
    add(at.x * columns, at.y * rows, radius, (d) =>
      d < radius * 0.45 ? -250 : 800 / (1 + Math.exp((d - radius) / (0.1 * radius + 0.5))),
    );
    lookalikes.push(truthLookalike(l, at));
  }
  // Quantum noise last, so lesions are as noisy as tissue. A table of normal deviates indexed by a
  // xorshift stream is ~20× cheaper than Box–Muller per pixel and just as reproducible.
  const table = Float32Array.from({ length: 65536 }, () => 30 * rng.normal());
  let state = deriveSeed(o.seed, 'noise', patient.index, laterality, view, visitIndex) || 1;
  for (let i = 0; i < pixels.length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    pixels[i] = Math.min(MAX, Math.max(0, Math.round((pixels[i] as number) + (table[state & 0xffff] as number))));
  }
  return { pixels, rows, columns, findings, lookalikes };
}
