import { VigilError } from '@vigil/shared';
import dicomParser from 'dicom-parser';
import { type TransferSyntaxInfo, transferSyntax } from './transfer-syntax.js';

export type DataSet = dicomParser.DataSet;

export interface ParsedDicom {
  dataSet: DataSet;
  transferSyntax: TransferSyntaxInfo;
  /** False for a bare dataset without the Part 10 preamble and file meta information. */
  hasFileMeta: boolean;
}

const IMPLICIT_LE = '1.2.840.10008.1.2';
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const EXPLICIT_BE = '1.2.840.10008.1.2.2';

function describe(error: unknown): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'exception' in error) return describe((error as { exception: unknown }).exception);
  return error instanceof Error ? error.message : String(error);
}

function isTruncation(message: string): boolean {
  return /past end|overread|overrun|beyond the end|end of (the )?buffer|premature|maxPosition|greater than or equal to 'byteArray' length/i.test(
    message,
  );
}

/**
 * A dataset with no Part 10 header (PS3.10 §7.1): guess its encoding from the first element. An
 * explicit-VR dataset has two upper-case letters at bytes 4-5; big endian has the group number's
 * high byte first.
 */
function guessBareSyntax(buffer: Buffer): string | undefined {
  if (buffer.length < 8) return undefined;
  const groupLe = buffer.readUInt16LE(0);
  const groupBe = buffer.readUInt16BE(0);
  const vr = buffer.toString('latin1', 4, 6);
  const explicit = /^[A-Z]{2}$/.test(vr);
  if (groupLe >= 0x0002 && groupLe <= 0x0010) return explicit ? EXPLICIT_LE : IMPLICIT_LE;
  if (groupBe >= 0x0002 && groupBe <= 0x0010 && explicit) return EXPLICIT_BE;
  return undefined;
}

/** Parses a DICOM Part 10 file (or a bare dataset) with dicom-parser; deflated files are inflated. */
export function parseDicom(buffer: Buffer): ParsedDicom {
  const hasFileMeta = buffer.length >= 132 && buffer.toString('latin1', 128, 132) === 'DICM';
  let bareSyntax: string | undefined;
  if (!hasFileMeta) {
    bareSyntax = guessBareSyntax(buffer);
    if (!bareSyntax) throw new VigilError('VIGIL_DICOM_NOT_DICOM', 'no DICM prefix at byte 128 and no recognisable dataset');
  }
  let dataSet: DataSet;
  try {
    dataSet = dicomParser.parseDicom(buffer, bareSyntax ? { TransferSyntaxUID: bareSyntax } : undefined);
  } catch (error) {
    const message = describe(error);
    if (isTruncation(message)) throw new VigilError('VIGIL_DICOM_TRUNCATED', `file ends early: ${message}`);
    if (/0002,0010/.test(message))
      throw new VigilError('VIGIL_DICOM_NOT_DICOM', 'file meta information has no Transfer Syntax UID (0002,0010)');
    throw new VigilError('VIGIL_DICOM_NOT_DICOM', `not a parsable DICOM file: ${message}`);
  }
  const uid = (dataSet.string('x00020010') ?? bareSyntax ?? '').trim();
  const info = transferSyntax(uid);
  if (!info) throw new VigilError('VIGIL_DICOM_UNSUPPORTED_SYNTAX', `transfer syntax ${uid || '(none)'} is not supported`);
  return { dataSet, transferSyntax: info, hasFileMeta };
}
