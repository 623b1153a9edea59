// The demo knows its phantoms' truth: at the end of a run it judges the hub's follow-up alerts the
// way `npm run evaluate -- DIR --alerts` does (CohortTruth), and says how many alerts each patient
// got and how many of them were right, for the inbox and the "to review" list apart.
import { alertLevel, type Hub } from '@vigil/cloud-hub';
import { CohortTruth } from '../evaluate/alert-evaluation.js';
import type { InferredImage } from '../evaluate/infer-cohort.js';
import { readDemoTruth } from './modality-simulator.js';

export interface DemoAlertTally {
  patients: number;
  inbox: { alerts: number; right: number };
  review: { alerts: number; right: number };
  byKind: Record<string, { alerts: number; right: number }>;
}

/** Judges every follow-up alert the hub holds (but those the system withdrew) against the phantoms. */
export async function tallyDemoAlerts(hub: Hub, cacheDir: string, secret: string): Promise<DemoAlertTally> {
  const truthByInstance = readDemoTruth(cacheDir, secret);
  const images: InferredImage[] = [];
  for (let cursor: string | null | undefined; ; ) {
    const page = await hub.state.queryResults({ limit: 500, ...(cursor ? { cursor } : {}) });
    for (const r of page.items) {
      const known = truthByInstance.get(r.instanceKey);
      if (!known || r.shadow) continue;
      const { truth, visit } = known;
      images.push({
        patientId: r.patientKey,
        resultId: r.messageId,
        visit,
        studyKey: r.studyKey,
        studyDate: r.studyDate.replaceAll('-', ''),
        image: { ...truth, file: '', laterality: truth.laterality as 'L' | 'R', view: truth.view as 'CC' | 'MLO' },
        score: r.score,
        findings: r.findings,
        candidates: [],
      });
    }
    cursor = page.next;
    if (!cursor) break;
  }
  const judge = new CohortTruth({ model: { name: '', version: '', sha256: '', findingThreshold: 0 }, images });
  const tally: DemoAlertTally = {
    patients: new Set(images.map((i) => i.patientId)).size,
    inbox: { alerts: 0, right: 0 },
    review: { alerts: 0, right: 0 },
    byKind: {},
  };
  const alerts = await hub.state.followup.listAlerts({ limit: 500 });
  for (const a of alerts.items) {
    // Overdue is a matter of dates; an alert the system withdrew is no longer shown as raised.
    if (a.kind === 'overdue' || a.resolvedBy === 'system') continue;
    const right = judge.judge(a).ok;
    const level = tally[alertLevel(a.severity)];
    level.alerts += 1;
    if (right) level.right += 1;
    const name = `${a.kind} (${alertLevel(a.severity)})`;
    const kind = tally.byKind[name] ?? { alerts: 0, right: 0 };
    tally.byKind[name] = kind;
    kind.alerts += 1;
    if (right) kind.right += 1;
  }
  return tally;
}

export function formatDemoAlerts(t: DemoAlertTally): string {
  const per = (n: number) => (n / Math.max(1, t.patients)).toFixed(1);
  return (
    `  alerts judged against the phantoms' truth: ${t.patients} patients; inbox ${t.inbox.alerts} alerts (${per(t.inbox.alerts)} per patient), ${t.inbox.right} right; ` +
    `to review ${t.review.alerts} (${per(t.review.alerts)} per patient), ${t.review.right} right\n` +
    Object.entries(t.byKind)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([kind, k]) => `    ${kind}: ${k.right} of ${k.alerts} right`)
      .join('\n')
  );
}
