/**
 * Where a finding lands in the model's input and output, shared by the edge's training sets and the
 * phantom trainer: positions are normalised to the original image (0..1, as results report them),
 * the input is the preprocessed image (mirrored so the chest wall is left, scaled, letterboxed).
 */
export interface InputGeometry {
  /** Original image size in pixels and its pixel spacing. */
  rows: number;
  columns: number;
  pixelSpacingMm: number;
  /** From preprocessing: model-input pixels per source pixel, and whether the image was mirrored. */
  scale: number;
  mirrored: boolean;
}

/** A position normalised to the original image → model-input pixels. */
export function toInputPixels(g: InputGeometry, p: { x: number; y: number }): { x: number; y: number } {
  return { x: (g.mirrored ? 1 - p.x : p.x) * g.columns * g.scale, y: p.y * g.rows * g.scale };
}

/**
 * Marks a disc for a finding in an output-resolution target map (one image's slice of `targets`,
 * starting at `offset`): the finding's diameter at the map's scale, at least 0.75 cells in radius.
 */
export function drawDisc(
  targets: Uint8Array,
  offset: number,
  map: { width: number; height: number; stride: number },
  g: InputGeometry,
  finding: { x: number; y: number; diameterMm: number },
): void {
  const c = toInputPixels(g, finding);
  const cx = c.x / map.stride;
  const cy = c.y / map.stride;
  const r = Math.max(0.75, (finding.diameterMm / 2 / g.pixelSpacingMm) * (g.scale / map.stride));
  for (let y = Math.max(0, Math.floor(cy - r)); y < Math.min(map.height, Math.ceil(cy + r)); y++) {
    for (let x = Math.max(0, Math.floor(cx - r)); x < Math.min(map.width, Math.ceil(cx + r)); x++) {
      if (Math.hypot(x + 0.5 - cx, y + 0.5 - cy) <= r) targets[offset + y * map.width + x] = 1;
    }
  }
}
