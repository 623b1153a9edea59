/**
 * DICOM UIDs for the hub's pseudonyms (PS3.5 B.2: a UUID-derived UID is `2.25.` and the 128-bit
 * value in decimal). The clinic edge's DICOMweb addresses studies and instances by these, so a
 * browser following the hub's links never needs, and never learns, an original UID. No Node imports:
 * the dashboard uses it too.
 */
const KEY = /^[0-9a-f]{32}$/;
const UID = /^2\.25\.(0|[1-9][0-9]{0,38})$/;

export function pseudonymUid(key: string): string {
  if (!KEY.test(key)) throw new Error(`not a pseudonym: ${key}`);
  return `2.25.${BigInt(`0x${key}`).toString(10)}`;
}

/** The pseudonym behind a `2.25.` UID, or undefined for any other UID. */
export function pseudonymOfUid(uid: string): string | undefined {
  if (!UID.test(uid)) return undefined;
  const value = BigInt(uid.slice(5));
  if (value >= 1n << 128n) return undefined;
  return value.toString(16).padStart(32, '0');
}
