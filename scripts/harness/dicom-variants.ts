import { readFileSync } from 'node:fs';

/** pydicom's small MR test image (Debian python3-pydicom). */
export const MR_SMALL = '/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm';
const MR_SMALL_UID = '1.3.6.1.4.1.5962.1.1.4.1.1.20040826185059.5457';

/**
 * Distinct DICOM instances without a child process per file: MR_small.dcm with its SOP Instance
 * UID (in the file meta and the dataset) replaced by one of the same length, so every element
 * length stays valid. `n` makes the UID unique (up to 10^12 per prefix).
 */
export function mrSmallWithUid(n: number): { uid: string; bytes: Buffer } {
  const template = readFileSync(MR_SMALL);
  const suffix = String(n).padStart(12, '0');
  const uid = `${MR_SMALL_UID.slice(0, MR_SMALL_UID.length - suffix.length - 1)}9${suffix}`;
  if (uid.length !== MR_SMALL_UID.length) throw new Error('uid length changed');
  const old = Buffer.from(MR_SMALL_UID, 'latin1');
  const replacement = Buffer.from(uid, 'latin1');
  let at = template.indexOf(old);
  let found = 0;
  while (at >= 0) {
    replacement.copy(template, at);
    found += 1;
    at = template.indexOf(old, at + old.length);
  }
  if (found < 2) throw new Error('template UID not found in meta and dataset');
  return { uid, bytes: template };
}
