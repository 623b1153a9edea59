import { VigilError } from '@vigil/shared';

/**
 * Binary PGM (Netpbm P5), the format mini-MIAS ships. Written here rather than taken from a library:
 * the format is a text header and raw samples (about 30 lines), and sharp, the image library the
 * project has, does not read PGM.
 */
export function parsePgm(
  bytes: Buffer,
  name: string,
): { rows: number; columns: number; maxValue: number; pixels: Uint8Array | Uint16Array } {
  const bad = (why: string) => new VigilError('VIGIL_DATASET_IMAGE_UNREADABLE', `${name}: ${why}`);
  if (bytes.length < 2 || bytes[0] !== 0x50 || bytes[1] !== 0x35) throw bad('not a binary PGM (no P5 magic)');
  const fields: number[] = [];
  let at = 2;
  while (fields.length < 3) {
    // Whitespace and comments (# to end of line) separate the header fields.
    while (at < bytes.length && /\s/.test(String.fromCharCode(bytes[at] as number))) at += 1;
    if (bytes[at] === 0x23) {
      while (at < bytes.length && bytes[at] !== 0x0a) at += 1;
      continue;
    }
    const start = at;
    while (at < bytes.length && (bytes[at] as number) >= 0x30 && (bytes[at] as number) <= 0x39) at += 1;
    if (start === at) throw bad('header ends before width, height and maximum value');
    fields.push(Number(bytes.subarray(start, at).toString('latin1')));
  }
  at += 1; // the single whitespace byte before the samples
  const [columns, rows, maxValue] = fields as [number, number, number];
  if (columns < 1 || rows < 1 || maxValue < 1 || maxValue > 65535)
    throw bad(`header ${columns}×${rows}, max ${maxValue} is not valid`);
  const width = maxValue > 255 ? 2 : 1;
  const need = rows * columns * width;
  if (bytes.length - at < need) throw bad(`truncated: ${bytes.length - at} sample bytes of ${need}`);
  const body = bytes.subarray(at, at + need);
  if (width === 1) return { rows, columns, maxValue, pixels: new Uint8Array(body) };
  const pixels = new Uint16Array(rows * columns);
  for (let i = 0; i < pixels.length; i += 1) pixels[i] = body.readUInt16BE(i * 2); // PGM is big-endian
  return { rows, columns, maxValue, pixels };
}
