/**
 * Writes the DICOM Part 10 preamble and File Meta Information (PS3.10 §7.1) in front of a dataset
 * received over the network, so each spooled instance is a standard file any tool can read.
 */
export const IMPLEMENTATION_CLASS_UID = '1.2.826.0.1.3680043.10.1451.1';
export const IMPLEMENTATION_VERSION = 'VIGIL_010';

function even(value: string, pad: string): Buffer {
  return Buffer.from(value.length % 2 === 0 ? value : value + pad, 'latin1');
}

/** Explicit VR little endian element with a 2-byte length (PS3.5 §7.1.2). */
function shortElement(element: number, vr: string, value: Buffer): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt16LE(0x0002, 0);
  header.writeUInt16LE(element, 2);
  header.write(vr, 4, 'latin1');
  header.writeUInt16LE(value.length, 6);
  return Buffer.concat([header, value]);
}

export interface FileMetaFields {
  sopClassUid: string;
  sopInstanceUid: string;
  transferSyntaxUid: string;
  sourceAeTitle?: string | undefined;
}

export function part10Header(meta: FileMetaFields): Buffer {
  const version = Buffer.alloc(14);
  version.writeUInt16LE(0x0002, 0);
  version.writeUInt16LE(0x0001, 2);
  version.write('OB', 4, 'latin1');
  version.writeUInt32LE(2, 8);
  version.writeUInt16LE(0x0100, 12); // bytes 00 01
  const elements = [
    version,
    shortElement(0x0002, 'UI', even(meta.sopClassUid, '\0')),
    shortElement(0x0003, 'UI', even(meta.sopInstanceUid, '\0')),
    shortElement(0x0010, 'UI', even(meta.transferSyntaxUid, '\0')),
    shortElement(0x0012, 'UI', even(IMPLEMENTATION_CLASS_UID, '\0')),
    shortElement(0x0013, 'SH', even(IMPLEMENTATION_VERSION, ' ')),
    ...(meta.sourceAeTitle ? [shortElement(0x0016, 'AE', even(meta.sourceAeTitle.trim(), ' '))] : []),
  ];
  const body = Buffer.concat(elements);
  const groupLength = shortElement(0x0000, 'UL', Buffer.alloc(4));
  groupLength.writeUInt32LE(body.length, 8);
  const preamble = Buffer.alloc(132);
  preamble.write('DICM', 128, 'latin1');
  return Buffer.concat([preamble, groupLength, body]);
}
