// A clinician's verdicts on one image's results, simulated from the phantom's truth (demo, tests):
// each reported finding on a real lesion is confirmed, any other dismissed (a benign look-alike as
// "benign", anything else as "artefact"), and each visible lesion the model did not report is added as
// a missed finding. The matching rule is the evaluation's (matchTruth).
import type { Finding } from '@vigil/shared';
import type { VerdictInput } from '../../cloud-hub/src/verdicts/verdict-service.js';
import type { TruthImage } from '../phantoms/generate-phantoms.js';
import { matchTruth } from './alert-evaluation.js';

/** Lesions smaller than this are not expected of a reader (not counted as misses). */
export const VISIBLE_LESION_MM = 5;

export function verdictsFromTruth(
  image: Pick<TruthImage, 'rows' | 'columns' | 'pixelSpacingMm' | 'findings' | 'lookalikes'>,
  result: { messageId: string; findings: readonly Finding[] },
): { inputs: VerdictInput[]; confirmed: number; missed: number } {
  const inputs: VerdictInput[] = [];
  const matches = result.findings.map((f) => matchTruth(image as TruthImage, f));
  let confirmed = 0;
  for (const [i, m] of matches.entries()) {
    const real = m !== undefined && m !== 'lookalike';
    if (real) confirmed++;
    inputs.push({
      kind: 'finding',
      resultId: result.messageId,
      findingIndex: i,
      verdict: real ? 'confirmed' : 'dismissed',
      ...(real ? {} : { reason: m === 'lookalike' ? ('benign' as const) : ('artefact' as const) }),
    });
  }
  let missed = 0;
  for (const t of image.findings) {
    if (t.diameterMm < VISIBLE_LESION_MM) continue;
    const seen = matches.some((m) => m !== undefined && m !== 'lookalike' && m.id === t.id);
    if (!seen) {
      missed++;
      inputs.push({ kind: 'missed', resultId: result.messageId, x: t.x, y: t.y, diameterMm: t.diameterMm });
    }
  }
  return { inputs, confirmed, missed };
}
