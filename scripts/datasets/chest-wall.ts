/**
 * Which image edge a mammogram's chest wall lies against. The breast is tallest at the chest wall
 * and tapers to the nipple, so the tissue's column profile (pixels above a background level, middle
 * 80 % of the rows, to keep film labels in the corners out) has its weight on the chest-wall side of
 * the tissue's extent. Used to write a true PatientOrientation for datasets that do not record it.
 */
export function chestWallSide(
  pixels: Uint8Array | Uint16Array,
  rows: number,
  columns: number,
  maxValue: number,
): 'left' | 'right' {
  const level = maxValue * 0.12;
  const counts = new Float64Array(columns);
  for (let y = Math.floor(rows * 0.1); y < Math.floor(rows * 0.9); y += 2) {
    const row = y * columns;
    for (let x = 0; x < columns; x += 1) if ((pixels[row + x] as number) > level) counts[x] = (counts[x] as number) + 1;
  }
  const peak = Math.max(...counts);
  let first = 0;
  let last = columns - 1;
  while (first < columns && (counts[first] as number) < peak * 0.1) first += 1;
  while (last > first && (counts[last] as number) < peak * 0.1) last -= 1;
  let mass = 0;
  let moment = 0;
  for (let x = first; x <= last; x += 1) {
    mass += counts[x] as number;
    moment += (counts[x] as number) * x;
  }
  const centre = mass > 0 ? moment / mass : (first + last) / 2;
  return centre - first < last - centre ? 'left' : 'right';
}

/**
 * PatientOrientation (rows' direction, columns' direction) of a mammogram from its laterality, view
 * and chest-wall side: towards the chest wall is posterior; down is feet (MLO) and across the body.
 */
export function mammogramOrientation(laterality: 'L' | 'R', view: 'CC' | 'MLO', chestWall: 'left' | 'right'): [string, string] {
  const rowDirection = chestWall === 'left' ? 'A' : 'P';
  const across = laterality === 'L' ? 'R' : 'L';
  return [rowDirection, view === 'MLO' ? `F${across}` : across];
}
