import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import dcmjs from 'dcmjs';
import dcmjsDimse from 'dcmjs-dimse';
import type { AtRest } from '../at-rest/at-rest-cipher.js';

const { Implementation } = dcmjsDimse;
const { DicomDict, DicomMetaDictionary } = dcmjs.data;
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/**
 * Encodes a naturalized dataset as Part 10 bytes in memory and writes them sealed (`atRest`, a pass
 * through when encryption is off), fsynced, atomically: an object that holds the patient's identity
 * is never on disk in clear when encryption at rest is on. The file's name binds the seal.
 */
export function writeSealedDicomFile(elements: Record<string, unknown>, path: string, atRest: AtRest): void {
  const sealed = atRest.seal(encodeP10(elements), sealLabel(path));
  const tmp = `${path}.tmp`;
  const fd = openSync(tmp, 'w', 0o600);
  try {
    writeSync(fd, sealed);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}

/** A sealed (or plain) object file's Part 10 bytes. */
export function readSealedDicomFile(path: string, atRest: AtRest): Buffer {
  return atRest.open(readFileSync(path), sealLabel(path));
}

const sealLabel = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

/**
 * Part 10 bytes in memory: what dcmjs-dimse's Dataset.toFile writes (the same meta header and
 * dcmjs encoder), without a clear-text file on the way.
 */
export function encodeP10(elements: Record<string, unknown>): Buffer {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: elements.SOPClassUID,
    MediaStorageSOPInstanceUID: elements.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
    ImplementationClassUID: Implementation.getImplementationClassUid(),
    ImplementationVersionName: Implementation.getImplementationVersion(),
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(elements);
  return Buffer.from(dict.write());
}
