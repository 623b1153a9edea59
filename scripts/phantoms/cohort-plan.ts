import { deriveSeed, Rng } from './random.js';

export type Laterality = 'L' | 'R';
export type View = 'CC' | 'MLO';
/** The four views of a screening study, in the order modalities send them. */
export const FOUR_VIEWS: readonly (readonly [Laterality, View])[] = [
  ['L', 'CC'],
  ['L', 'MLO'],
  ['R', 'CC'],
  ['R', 'MLO'],
];

export type FindingType = 'circumscribed-mass' | 'spiculated-mass' | 'calcification-cluster';
/** What a finding does over the visits: the ground truth the follow-up engine is tested against. */
export type Behaviour = 'stable' | 'growing' | 'new' | 'resolving';
export type Density = 'A' | 'B' | 'C' | 'D';

/** A lesion in breast coordinates: depth from chest wall (0) to nipple (1); lateral offsets −1..1. */
export interface PlannedFinding {
  id: string;
  type: FindingType;
  laterality: Laterality;
  depth: number;
  ccOffset: number;
  mloOffset: number;
  baseDiameterMm: number;
  growthMmPerMonth: number;
  behaviour: Behaviour;
  /** First visit index where it is visible. */
  appearsAtVisit: number;
  /** First visit index where it is gone (Infinity = never). */
  resolvesAtVisit: number;
  contrast: number;
}

/** Benign-looking structures (e.g. an intramammary lymph node): never a finding. */
export interface PlannedLookalike {
  id: string;
  laterality: Laterality;
  depth: number;
  ccOffset: number;
  mloOffset: number;
  diameterMm: number;
}

export interface PlannedVisit {
  index: number;
  /** YYYYMMDD */
  studyDate: string;
  monthsFromBaseline: number;
}

export interface PlannedPatient {
  index: number;
  patientId: string;
  patientName: string;
  birthDate: string;
  density: Density;
  /** Fraction of the image width from chest wall to nipple, per breast. */
  breastDepth: Record<Laterality, number>;
  breastHeight: Record<Laterality, number>;
  visits: PlannedVisit[];
  findings: PlannedFinding[];
  lookalikes: PlannedLookalike[];
}

const FAMILY = [
  'ABARA',
  'BERGSTROM',
  'CASTILLO',
  'DUBOIS',
  'EKWUEME',
  'FONTAINE',
  'GUPTA',
  'HAVEL',
  'IVANOVA',
  'JENSEN',
  'KOWALSKA',
  'LINDGREN',
  'MORETTI',
  'NAKAMURA',
  'OKAFOR',
  'PETROVA',
];
const GIVEN = [
  'ANNA',
  'BEATRIZ',
  'CLARA',
  'DANIELA',
  'ELENA',
  'FATIMA',
  'GRACE',
  'HANNA',
  'INES',
  'JULIA',
  'KEIKO',
  'LUCIA',
  'MARTA',
  'NADIA',
  'OLGA',
  'PRIYA',
];

/** A DICOM study date (YYYYMMDD) as the ISO date (YYYY-MM-DD) results carry. */
export function isoStudyDate(yyyymmddDate: string): string {
  return `${yyyymmddDate.slice(0, 4)}-${yyyymmddDate.slice(4, 6)}-${yyyymmddDate.slice(6, 8)}`;
}

function yyyymmdd(date: Date): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '');
}

function addMonths(date: Date, months: number): Date {
  const d = new Date(date);
  d.setUTCDate(d.getUTCDate() + Math.round(months * 30.44));
  return d;
}

/** Plans a reproducible longitudinal cohort: who, when, and what each breast contains at each visit. */
export function planCohort(seed: number, patients: number, visits: number): PlannedPatient[] {
  return Array.from({ length: patients }, (_, index) => {
    const rng = new Rng(deriveSeed(seed, 'patient', index));
    const intervalMonths = rng.pick([6, 12, 12, 24]);
    const baseline = new Date(Date.UTC(2019 + rng.int(0, 3), rng.int(0, 11), rng.int(1, 28)));
    const birth = new Date(Date.UTC(baseline.getUTCFullYear() - rng.int(40, 74), rng.int(0, 11), rng.int(1, 28)));
    const plannedVisits: PlannedVisit[] = Array.from({ length: visits }, (_, v) => {
      const months = v * intervalMonths + (v > 0 ? rng.range(-0.5, 0.5) : 0);
      return { index: v, studyDate: yyyymmdd(addMonths(baseline, months)), monthsFromBaseline: months };
    });
    const findings: PlannedFinding[] = [];
    const count = rng.pick([0, 1, 1, 2, 3]);
    for (let f = 0; f < count; f++) {
      const type = rng.pick<FindingType>([
        'circumscribed-mass',
        'circumscribed-mass',
        'spiculated-mass',
        'calcification-cluster',
      ]);
      const behaviour = visits > 1 ? rng.pick<Behaviour>(['stable', 'growing', 'growing', 'new', 'resolving']) : 'stable';
      const appearsAtVisit = behaviour === 'new' ? rng.int(1, visits - 1) : 0;
      const resolvesAtVisit = behaviour === 'resolving' ? rng.int(1, visits - 1) : Number.POSITIVE_INFINITY;
      const baseDiameterMm =
        behaviour === 'new' ? rng.range(3, 8) : type === 'calcification-cluster' ? rng.range(5, 12) : rng.range(4, 22);
      findings.push({
        id: `P${index}-F${f}`,
        type,
        laterality: rng.pick<Laterality>(['L', 'R']),
        depth: rng.range(0.25, 0.75),
        ccOffset: rng.range(-0.6, 0.6),
        mloOffset: rng.range(-0.6, 0.6),
        baseDiameterMm,
        growthMmPerMonth: behaviour === 'growing' || behaviour === 'new' ? rng.range(0.15, 0.8) : 0,
        behaviour,
        appearsAtVisit,
        resolvesAtVisit,
        contrast: rng.range(0.55, 1),
      });
    }
    const lookalikes: PlannedLookalike[] = Array.from({ length: rng.pick([0, 0, 1, 2]) }, (_, l) => ({
      id: `P${index}-B${l}`,
      laterality: rng.pick<Laterality>(['L', 'R']),
      depth: rng.range(0.2, 0.6),
      ccOffset: rng.range(-0.7, 0.7),
      mloOffset: rng.range(-0.8, -0.3),
      diameterMm: rng.range(5, 10),
    }));
    return {
      index,
      patientId: `PH${String(seed).padStart(4, '0')}-${String(index).padStart(5, '0')}`,
      patientName: `${rng.pick(FAMILY)}^${rng.pick(GIVEN)}`,
      birthDate: yyyymmdd(birth),
      density: rng.pick<Density>(['A', 'B', 'B', 'C', 'C', 'D']),
      breastDepth: { L: rng.range(0.62, 0.85), R: rng.range(0.62, 0.85) },
      breastHeight: { L: rng.range(0.34, 0.44), R: rng.range(0.34, 0.44) },
      visits: plannedVisits,
      findings,
      lookalikes,
    };
  });
}

/** A finding's diameter at a visit, or undefined when it is not (yet, or any more) there. */
export function diameterAtVisit(
  finding: PlannedFinding,
  visits: readonly PlannedVisit[],
  visitIndex: number,
): number | undefined {
  if (visitIndex < finding.appearsAtVisit || visitIndex >= finding.resolvesAtVisit) return undefined;
  const now = visits[visitIndex]?.monthsFromBaseline ?? 0;
  const since = visits[finding.appearsAtVisit]?.monthsFromBaseline ?? 0;
  return finding.baseDiameterMm + finding.growthMmPerMonth * Math.max(0, now - since);
}
