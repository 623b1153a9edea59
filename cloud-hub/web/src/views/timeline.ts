import type { Timeline } from '../../../src/api/api-types.js';
import { api } from '../api.js';
import { lineChart } from '../charts.js';
import { clear, el, shortKey } from '../dom.js';
import { alertItem } from './alert-item.js';
import { pageHeader } from './layout.js';
import { categoryBadge } from './patients.js';
import { verdictPanel } from './verdicts.js';

const SIDE: Record<string, string> = { L: 'Left', R: 'Right', U: 'Unknown side' };
const seconds = (date: string) => Date.parse(`${date}T00:00:00Z`) / 1000;

type Study = Timeline['studies'][number];

/** Last study, latest assessment, next follow-up (or overdue since) and open alerts. */
function kpis(t: Timeline, last: Study | undefined, overdue: boolean, openAlerts: number): HTMLElement {
  return el(
    'section',
    { class: 'kpis' },
    el(
      'div',
      { class: 'kpi' },
      el('div', { class: 'kpi-value' }, last?.studyDate ?? '—'),
      el('div', { class: 'kpi-label' }, 'Last study'),
    ),
    el(
      'div',
      { class: 'kpi' },
      el('div', { class: 'kpi-value kpi-text' }, t.due?.categoryLabel ?? '—'),
      el('div', { class: 'kpi-label' }, 'Latest assessment'),
    ),
    el(
      'div',
      { class: `kpi ${overdue ? 'bad' : 'good'}` },
      el('div', { class: 'kpi-value' }, t.due?.dueDate ?? '—'),
      el(
        'div',
        { class: 'kpi-label' },
        overdue ? 'Follow-up overdue since' : `Next follow-up (${t.due?.intervalMonths ?? '—'} months)`,
      ),
    ),
    el(
      'div',
      { class: `kpi ${openAlerts > 0 ? 'warn' : ''}` },
      el('div', { class: 'kpi-value' }, String(openAlerts)),
      el('div', { class: 'kpi-label' }, 'Open alerts'),
    ),
  );
}

/** Every study, newest first, with its clinic, device, score and assessment. */
function studiesTable(t: Timeline): HTMLElement {
  return el(
    'section',
    { class: 'card table-card', 'aria-labelledby': 'studies-title' },
    el('h2', { id: 'studies-title' }, 'Studies'),
    el(
      'table',
      { class: 'table' },
      el(
        'thead',
        {},
        el('tr', {}, ...['Date', 'Clinic / device', 'Score', 'Assessment'].map((h) => el('th', { scope: 'col' }, h))),
      ),
      el(
        'tbody',
        {},
        ...[...t.studies]
          .reverse()
          .map((s) =>
            el(
              'tr',
              {},
              el('td', {}, s.studyDate),
              el('td', {}, `${s.clinicId} / ${s.deviceId}`),
              el('td', { class: 'num' }, s.score.toFixed(2)),
              el('td', {}, s.analysable ? s.categoryLabel : 'no visible tissue: not a follow-up'),
            ),
          ),
      ),
    ),
  );
}

/** Each finding's size over time, one chart per laterality × view. */
function drawSizeCharts(charts: HTMLElement, t: Timeline): void {
  for (const s of t.series) {
    const box = el('div', { class: 'chart' });
    const title = `${SIDE[s.laterality] ?? s.laterality} ${s.view}`;
    charts.append(el('div', { class: 'card' }, el('h3', {}, title), box));
    if (s.tracks.length === 0) {
      box.append(el('p', { class: 'muted' }, `No findings on ${s.studies.length} studies.`));
      continue;
    }
    const dates = [...new Set(s.studies.map((st) => st.studyDate))].sort();
    lineChart(box, {
      x: dates.map(seconds),
      yLabel: 'diameter (mm)',
      height: 200,
      series: s.tracks.map((track) => {
        const first = track.points[0];
        const byDate = new Map(track.points.map((p) => [p.studyDate, p.diameterMm]));
        return {
          label: first ? `at (${first.x.toFixed(2)}, ${first.y.toFixed(2)})` : track.trackId,
          values: dates.map((d) => byDate.get(d) ?? null),
        };
      }),
    });
  }
}

/** A patient's follow-up: alerts, each finding's size over time per laterality × view, studies. */
export async function renderTimeline(main: HTMLElement, patientKey: string): Promise<void> {
  // The viewer (Cornerstone3D, most of the dashboard's code) loads with the first timeline opened.
  const [t, { readingPanel }] = await Promise.all([
    api<Timeline>('GET', `/patients/${encodeURIComponent(patientKey)}/timeline`),
    import('../viewer/reading-panel.js'),
  ]);
  const today = new Date().toISOString().slice(0, 10);
  const last = t.studies.findLast((s) => s.analysable);
  const blank = t.studies.length - t.studies.filter((s) => s.analysable).length;
  const overdue = t.due !== null && t.due.dueDate < today;
  const open = t.alerts.filter((a) => a.status !== 'resolved');
  const closed = t.alerts.filter((a) => a.status === 'resolved');
  const refresh = () => void renderTimeline(main, patientKey);
  const charts = el('div', { class: 'chart-grid' });
  const header = el('p', { class: 'patient-key', 'data-patient-key': patientKey }, `Pseudonym ${patientKey}`);
  clear(
    main,
    header,
    pageHeader(
      `Patient ${shortKey(patientKey)}`,
      `${t.studies.length} studies${blank ? ` (${blank} without visible tissue, not counted as follow-up)` : ''} · ${[...new Set(t.studies.map((s) => s.clinicId))].join(', ')} · key ${patientKey}`,
      last ? categoryBadge(last.category) : el('span'),
    ),
    kpis(t, last, overdue, open.length),
    el(
      'section',
      { class: 'card', 'aria-labelledby': 'alerts-title' },
      el('h2', { id: 'alerts-title' }, 'Alerts'),
      open.length === 0 && closed.length === 0 ? el('p', { class: 'muted' }, 'No alerts for this patient.') : null,
      el('ul', { class: 'alert-list' }, ...open.map((a) => alertItem(a, refresh, false))),
      closed.length > 0
        ? el(
            'details',
            {},
            el('summary', {}, `${closed.length} resolved`),
            el('ul', { class: 'alert-list' }, ...closed.map((a) => alertItem(a, refresh, false))),
          )
        : null,
    ),
    readingPanel(t, patientKey, refresh),
    verdictPanel(t, patientKey, refresh),
    el('h2', { class: 'section-title' }, 'Finding size over time'),
    charts,
    studiesTable(t),
  );
  drawSizeCharts(charts, t);
}
