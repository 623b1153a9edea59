import { createHash } from 'node:crypto';
import { type DeviceAddress, RESULT_SCHEMA, type ResultMessage, resultMessageId } from '@vigil/shared';

function key(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/**
 * A schema-valid result for synthetic load (backbone tests and benchmarks). Padded with findings
 * so the payload is about `targetBytes`, like a real result with several findings.
 */
export function syntheticResult(address: DeviceAddress, index: number, targetBytes = 512): ResultMessage {
  const instanceKey = key(`${address.deviceId}/${index}`);
  const result: ResultMessage = {
    schema: RESULT_SCHEMA,
    messageId: resultMessageId(instanceKey, 'vigil-demo', '1.0.0'),
    clinicId: address.clinicId,
    deviceId: address.deviceId,
    createdAt: new Date(Date.UTC(2026, 0, 1) + index * 1000).toISOString(),
    // A screening day: each patient's study is four consecutive images (L/R × CC/MLO).
    patientKey: key(`${address.deviceId}/patient/${Math.floor(index / 4)}`),
    studyKey: key(`${address.deviceId}/study/${Math.floor(index / 4)}`),
    seriesKey: key(`${address.deviceId}/series/${index}`),
    instanceKey,
    studyDate: '2026-01-01',
    modality: 'MG',
    laterality: index % 2 === 0 ? 'L' : 'R',
    view: index % 4 < 2 ? 'CC' : 'MLO',
    model: { name: 'vigil-demo', version: '1.0.0' },
    score: (index % 100) / 100,
    findings: [],
    image: { rows: 4096, columns: 3328, pixelSpacingMm: 0.07 },
    timingsMs: { decode: 12, preprocess: 3, infer: 8 },
  };
  while (Buffer.byteLength(JSON.stringify(result)) + 90 < targetBytes && result.findings.length < 100) {
    const f = result.findings.length;
    result.findings.push({ x: (f * 0.137) % 1, y: (f * 0.311) % 1, diameterMm: 4 + f, areaMm2: 12.5 + f, score: 0.5 });
  }
  return result;
}
