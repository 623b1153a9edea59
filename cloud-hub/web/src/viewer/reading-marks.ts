// What the reading panel draws for one image of the timeline, computed from the timeline alone: the
// model's findings and clinicians' missed findings as marks, the findings listed beside, the lesion
// followed, and the tracked lesion's sizes over time.
import type { Timeline, Verdict } from '../../../src/api/api-types.js';
import { lineChart } from '../charts.js';
import { clear, el } from '../dom.js';
import type { FindingValue, MissedValue } from '../views/verdicts.js';
import type { Mark } from './image-view.js';

export type Series = Timeline['series'][number];
export type SeriesStudy = Series['studies'][number];

export const SIDE: Record<string, string> = { L: 'Left', R: 'Right', U: 'Unknown side' };

export interface ShownFinding {
  resultId: string;
  index: number;
  label: string;
  laterality: string;
  view: string;
  diameterMm: number;
  score: number;
  trackId: string;
}

/** One laterality and view of the timeline in one study. */
export function seriesStudy(
  t: Timeline,
  laterality: string,
  view: string,
  studyKey: string | undefined,
): { s: Series; st: SeriesStudy } | undefined {
  const s = t.series.find((x) => x.laterality === laterality && x.view === view);
  const st = s?.studies.find((x) => x.studyKey === studyKey);
  return s && st ? { s, st } : undefined;
}

export function verdictOf(t: Timeline, resultId: string, index: number): Verdict | undefined {
  return t.verdicts.find((v) => v.subject === `finding:${resultId}:${index}`);
}

/** The marks on one image (findings, with their verdicts; missed findings) and its findings in order. */
export function marksFor(
  t: Timeline,
  s: Series,
  st: SeriesStudy,
  o: { trackId: string | undefined; selected: string | undefined },
): { marks: Mark[]; findings: ShownFinding[] } {
  const marks: Mark[] = [];
  const findings: ShownFinding[] = [];
  for (const track of s.tracks) {
    for (const p of track.points) {
      if (p.resultId !== st.resultId) continue;
      const id = `${p.resultId}:${p.findingIndex}`;
      const verdict = verdictOf(t, p.resultId, p.findingIndex)?.value as FindingValue | undefined;
      const label = `${s.laterality}${s.view} ${p.findingIndex + 1}`;
      findings.push({
        resultId: p.resultId,
        index: p.findingIndex,
        label,
        laterality: s.laterality,
        view: s.view,
        diameterMm: p.diameterMm,
        score: p.score,
        trackId: track.trackId,
      });
      marks.push({
        id,
        kind: 'finding',
        x: p.x,
        y: p.y,
        diameterMm: p.diameterMm,
        label: `${p.findingIndex + 1} · ${p.score.toFixed(2)} · ${p.diameterMm.toFixed(0)} mm${verdict ? ` · ${verdict.verdict}` : ''}`,
        selected: o.selected === id,
        tracked: o.trackId !== undefined && track.trackId === o.trackId,
        dismissed: verdict?.verdict === 'dismissed',
      });
    }
  }
  for (const v of t.verdicts) {
    const value = v.value as MissedValue;
    if (v.kind !== 'missed' || value.resultId !== st.resultId || value.withdrawn) continue;
    marks.push({
      id: v.subject,
      kind: 'missed',
      x: value.x,
      y: value.y,
      diameterMm: value.diameterMm,
      label: `missed · ${value.diameterMm} mm · ${v.author}`,
    });
  }
  findings.sort((a, b) => a.index - b.index);
  return { marks, findings };
}

/** The lesion followed in an image: the selected finding's track if it is there, else the largest finding's. */
export function trackedIn(s: Series, st: SeriesStudy, selectedTrack: string | undefined): string | undefined {
  if (selectedTrack && st.trackIds.includes(selectedTrack)) return selectedTrack;
  const points = s.tracks.flatMap((t) => t.points.filter((p) => p.resultId === st.resultId).map((p) => ({ t, p })));
  return points.sort((a, b) => b.p.diameterMm - a.p.diameterMm)[0]?.t.trackId;
}

/** The tracked lesion's sizes over time, listed and plotted into `box` (emptied when there is none). */
export function renderTrend(box: HTMLElement, s: Series | undefined, trackId: string | undefined): void {
  const track = s?.tracks.find((t) => t.trackId === trackId);
  if (!s || !track) {
    clear(box);
    return;
  }
  const chart = el('div', { class: 'chart' });
  clear(
    box,
    el('h3', {}, `Tracked lesion, ${SIDE[s.laterality] ?? s.laterality} ${s.view}`),
    el(
      'ul',
      { class: 'viewer-trend-list' },
      ...track.points.map((p) => el('li', {}, `${p.studyDate}: ${p.diameterMm.toFixed(1)} mm (score ${p.score.toFixed(2)})`)),
    ),
    chart,
  );
  lineChart(chart, {
    x: track.points.map((p) => Date.parse(`${p.studyDate}T00:00:00Z`) / 1000),
    yLabel: 'diameter (mm)',
    height: 160,
    series: [{ label: 'diameter', values: track.points.map((p) => p.diameterMm) }],
  });
}

/** The findings on screen, each with its verdict and the Confirm, Dismiss and Uncertain buttons (keys y, d, u). */
export function renderFindings(
  box: HTMLElement,
  t: Timeline,
  shown: readonly ShownFinding[],
  o: {
    selected: string | undefined;
    reason: HTMLElement;
    select: (id: string) => void;
    judge: (id: string, verdict: FindingValue['verdict']) => void;
  },
): void {
  const rows = shown.map((f) => {
    const id = `${f.resultId}:${f.index}`;
    const verdict = verdictOf(t, f.resultId, f.index)?.value as FindingValue | undefined;
    const act = (label: string, key: string, run: () => void) =>
      el('button', { type: 'button', class: 'btn btn-small', 'aria-keyshortcuts': key, onclick: run }, label);
    return el(
      'li',
      {
        class: `viewer-finding${o.selected === id ? ' is-selected' : ''}`,
        'data-finding': id,
        'aria-current': o.selected === id ? 'true' : undefined,
      },
      el(
        'button',
        { type: 'button', class: 'link-button', onclick: () => o.select(id) },
        `${f.label} · ${f.diameterMm.toFixed(1)} mm · score ${f.score.toFixed(2)}`,
      ),
      el('span', { class: `verdict verdict-${verdict?.verdict ?? 'none'}` }, verdict ? verdict.verdict : 'not judged'),
      act('Confirm', 'y', () => o.judge(id, 'confirmed')),
      act('Dismiss', 'd', () => o.judge(id, 'dismissed')),
      act('Uncertain', 'u', () => o.judge(id, 'uncertain')),
    );
  });
  clear(
    box,
    el('h3', {}, 'Findings on screen'),
    rows.length === 0
      ? el('p', { class: 'muted' }, 'The model reported no findings on these images.')
      : el('ol', { class: 'viewer-finding-list' }, ...rows),
    el('div', { class: 'filters' }, el('label', { for: 'dismiss-reason' }, 'Dismiss as'), o.reason),
  );
}
