import { LABELS_SCHEMA, type LabelsMessage } from '@vigil/shared';
import type { ReviewFacts } from './verdict-store.js';
import type { FindingVerdictValue, MissedFindingValue } from './verdict-types.js';

/**
 * Training labels for one device from the current verdicts on its own (non-shadow) results: an
 * image is labelled once every finding the model reported on it has a verdict (an image judged in
 * part would teach that the unjudged findings are background). Uncertain findings make no label.
 */
export function deviceLabels(deviceId: string, facts: ReviewFacts, now = new Date()): LabelsMessage {
  const findingVerdicts = new Map<string, FindingVerdictValue>();
  const missed = new Map<string, MissedFindingValue[]>();
  for (const v of facts.verdicts) {
    if (v.kind === 'finding') findingVerdicts.set(`${v.resultId}:${v.findingIndex}`, v.value as FindingVerdictValue);
    if (v.kind === 'missed' && v.resultId && !(v.value as MissedFindingValue).withdrawn) {
      missed.set(v.resultId, [...(missed.get(v.resultId) ?? []), v.value as MissedFindingValue]);
    }
  }
  const images: LabelsMessage['images'] = [];
  for (const r of facts.results) {
    if (r.deviceId !== deviceId || r.shadow) continue;
    const judged = r.findings.map((_, i) => findingVerdicts.get(`${r.messageId}:${i}`));
    const added = missed.get(r.messageId) ?? [];
    if (judged.some((v) => v === undefined) || (judged.length === 0 && added.length === 0)) continue;
    const position = (p: { x: number; y: number; diameterMm: number }) => ({ x: p.x, y: p.y, diameterMm: p.diameterMm });
    images.push({
      resultId: r.messageId,
      instanceKey: r.instanceKey,
      patientKey: r.patientKey,
      model: r.model,
      lesions: [...r.findings.filter((_, i) => judged[i]?.verdict === 'confirmed').map(position), ...added.map(position)],
      negatives: r.findings.filter((_, i) => judged[i]?.verdict === 'dismissed').map(position),
    });
  }
  return { schema: LABELS_SCHEMA, deviceId, generatedAt: now.toISOString(), images };
}
