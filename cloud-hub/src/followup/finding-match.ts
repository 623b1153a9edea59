import { munkres } from 'munkres';

/** Where a lesion was last seen, in image-normalised coordinates. */
export interface MatchCandidate {
  x: number;
  y: number;
  diameterMm: number;
}

export interface MatchPolicy {
  /** Positioning differs between visits: how far (image-normalised) the same lesion may move. */
  positionTolerance: number;
  /** Weight of the size difference (|ln d1/d2|) against the normalised distance in the cost. */
  sizeWeight: number;
}

export const DEFAULT_MATCH_POLICY: MatchPolicy = { positionTolerance: 0.08, sizeWeight: 0.25 };

/** Leaving a finding unmatched costs more than any allowed pair's distance term (at most 1). */
const UNMATCHED_COST = 2;
const FORBIDDEN = 1e9;

/**
 * Matches current findings to earlier ones by position, then size, as an optimal assignment
 * (Munkres): the total cost over all pairs is minimal, so two neighbouring lesions that both grew
 * are not swapped the way a greedy nearest-first match would. A pair farther apart than the
 * tolerance (widened by the lesion's own radius, so a large mass whose centre moves as it grows still
 * matches) is never made. Returns, for each current finding, the index of its earlier match or -1.
 */
export function matchFindings(
  earlier: readonly MatchCandidate[],
  current: readonly MatchCandidate[],
  imageWidthMm: number,
  policy: MatchPolicy = DEFAULT_MATCH_POLICY,
): number[] {
  const match = new Array<number>(current.length).fill(-1);
  if (earlier.length === 0 || current.length === 0) return match;
  // Rows: current findings. Columns: earlier findings, then one "stays unmatched" column per row.
  const cost = current.map((cur, c) => {
    const row = new Array<number>(earlier.length + current.length).fill(FORBIDDEN);
    row[earlier.length + c] = UNMATCHED_COST;
    earlier.forEach((old, e) => {
      const radius = Math.max(cur.diameterMm, old.diameterMm) / 2 / Math.max(1, imageWidthMm);
      const tolerance = policy.positionTolerance + radius;
      const distance = Math.hypot(cur.x - old.x, cur.y - old.y);
      if (distance > tolerance) return;
      const sizeTerm = Math.abs(Math.log(Math.max(0.1, cur.diameterMm) / Math.max(0.1, old.diameterMm)));
      row[e] = distance / tolerance + policy.sizeWeight * sizeTerm;
    });
    return row;
  });
  for (const [c, e] of munkres(cost)) {
    if (e < earlier.length && (cost[c]?.[e] ?? FORBIDDEN) < FORBIDDEN) match[c] = e;
  }
  return match;
}
