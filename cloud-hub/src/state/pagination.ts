import { VigilError } from '@vigil/shared';

/** A page of a list route: `next` is an opaque cursor for the following page, null at the end. */
export interface Page<T> {
  items: T[];
  next: string | null;
}

/** Keyset cursors: the sort key and id of the last item, so pages stay stable while rows arrive. */
export function encodeCursor(parts: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(parts)).toString('base64url');
}

export function decodeCursor(cursor: string | undefined, arity: number): (string | number)[] | undefined {
  if (!cursor) return undefined;
  try {
    const parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(parts) && parts.length === arity && parts.every((p) => typeof p === 'string' || typeof p === 'number')) {
      return parts as (string | number)[];
    }
  } catch {
    // fall through to the error below
  }
  throw new VigilError('VIGIL_API_INVALID_REQUEST', 'cursor is not one this API issued');
}

/** Fetches limit + 1 rows to know whether a next page exists. */
export function toPage<Row, T>(
  rows: Row[],
  limit: number,
  map: (row: Row) => T,
  cursorOf: (row: Row) => (string | number)[],
): Page<T> {
  const more = rows.length > limit;
  const kept = more ? rows.slice(0, limit) : rows;
  const last = kept[kept.length - 1];
  return { items: kept.map(map), next: more && last !== undefined ? encodeCursor(cursorOf(last)) : null };
}
