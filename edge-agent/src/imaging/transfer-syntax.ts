/** Transfer syntaxes the edge decodes (PS3.5 §10 and Annex A), and which codec each needs. */
export type Codec = 'native' | 'rle' | 'jpeg' | 'jpegls' | 'j2k' | 'htj2k';

export interface TransferSyntaxInfo {
  uid: string;
  name: string;
  codec: Codec;
  explicitVr: boolean;
  bigEndian: boolean;
  deflated: boolean;
  lossy: boolean;
}

const ts = (
  uid: string,
  name: string,
  codec: Codec,
  options: Partial<Pick<TransferSyntaxInfo, 'explicitVr' | 'bigEndian' | 'deflated' | 'lossy'>> = {},
): TransferSyntaxInfo => ({ uid, name, codec, explicitVr: true, bigEndian: false, deflated: false, lossy: false, ...options });

export const TRANSFER_SYNTAXES: readonly TransferSyntaxInfo[] = [
  ts('1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native', { explicitVr: false }),
  ts('1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native'),
  ts('1.2.840.10008.1.2.2', 'Explicit VR Big Endian (retired)', 'native', { bigEndian: true }),
  ts('1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native', { deflated: true }),
  ts('1.2.840.10008.1.2.5', 'RLE Lossless', 'rle'),
  ts('1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg', { lossy: true }),
  ts('1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg', { lossy: true }),
  ts('1.2.840.10008.1.2.4.57', 'JPEG Lossless, Non-Hierarchical (Process 14)', 'jpeg'),
  ts('1.2.840.10008.1.2.4.70', 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 SV1)', 'jpeg'),
  ts('1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpegls'),
  ts('1.2.840.10008.1.2.4.81', 'JPEG-LS Lossy (Near-Lossless)', 'jpegls', { lossy: true }),
  ts('1.2.840.10008.1.2.4.90', 'JPEG 2000 (Lossless Only)', 'j2k'),
  ts('1.2.840.10008.1.2.4.91', 'JPEG 2000', 'j2k', { lossy: true }),
  ts('1.2.840.10008.1.2.4.201', 'High-Throughput JPEG 2000 (Lossless Only)', 'htj2k'),
  ts('1.2.840.10008.1.2.4.202', 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', 'htj2k'),
  ts('1.2.840.10008.1.2.4.203', 'High-Throughput JPEG 2000', 'htj2k', { lossy: true }),
];

const BY_UID = new Map(TRANSFER_SYNTAXES.map((t) => [t.uid, t]));

export function transferSyntax(uid: string): TransferSyntaxInfo | undefined {
  return BY_UID.get(uid.replace(/\0/g, '').trim());
}
