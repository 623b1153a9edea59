import { createHash } from 'node:crypto';
import { type Finding, RESULT_SCHEMA, type ResultMessage, resultMessageId } from '@vigil/shared';

function key(text: string): string {
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

/** A clinical result for one image of a patient's study, for follow-up and API tests. */
export function studyResult(o: {
  clinicId: string;
  deviceId: string;
  patient: string;
  studyDate: string;
  laterality: 'L' | 'R';
  view: 'CC' | 'MLO';
  score: number;
  findings: Omit<Finding, 'areaMm2'>[];
  shadow?: boolean;
}): ResultMessage {
  const instanceKey = key(`${o.patient}/${o.studyDate}/${o.laterality}${o.view}`);
  return {
    schema: RESULT_SCHEMA,
    messageId: resultMessageId(instanceKey, 'vigil-demo', o.shadow ? '9.9.9' : '1.0.0'),
    clinicId: o.clinicId,
    deviceId: o.deviceId,
    createdAt: `${o.studyDate}T09:30:00.000Z`,
    patientKey: key(`patient/${o.patient}`),
    studyKey: key(`study/${o.patient}/${o.studyDate}`),
    seriesKey: key(`series/${o.patient}/${o.studyDate}/${o.laterality}${o.view}`),
    instanceKey,
    studyDate: o.studyDate,
    modality: 'MG',
    laterality: o.laterality,
    view: o.view,
    model: { name: 'vigil-demo', version: o.shadow ? '9.9.9' : '1.0.0' },
    score: o.score,
    findings: o.findings.map((f) => ({ ...f, areaMm2: Math.round(Math.PI * (f.diameterMm / 2) ** 2 * 100) / 100 })),
    image: { rows: 4096, columns: 3328, pixelSpacingMm: 0.07 },
    timingsMs: { decode: 30, preprocess: 5, infer: 9 },
    ...(o.shadow ? { shadow: true } : {}),
  };
}

export function patientKeyOf(patient: string): string {
  return key(`patient/${patient}`);
}
