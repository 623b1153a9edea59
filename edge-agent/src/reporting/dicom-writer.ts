import { renameSync } from 'node:fs';
import dcmjsDimse from 'dcmjs-dimse';

const { Dataset } = dcmjsDimse;
export const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1';

/** Writes a naturalized dataset as a DICOM Part 10 file (dcmjs's encoder), atomically (temp + rename). */
export function writeDicomFile(elements: Record<string, unknown>, path: string): Promise<void> {
  const dataset = new Dataset(elements, EXPLICIT_VR_LITTLE_ENDIAN);
  return new Promise((resolve, reject) =>
    dataset.toFile(`${path}.tmp`, (error) => {
      if (error) return reject(error);
      try {
        renameSync(`${path}.tmp`, path);
        resolve();
      } catch (e) {
        reject(e);
      }
    }),
  );
}
