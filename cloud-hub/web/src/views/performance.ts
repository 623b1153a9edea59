import type { OpsAlert, PerformanceReport } from '../../../src/api/api-types.js';
import { ApiError, api, query } from '../api.js';
import { lineChart } from '../charts.js';
import { clear, el, fmtDateTime, toast } from '../dom.js';
import { filterForm, pageHeader } from './layout.js';

type Row = PerformanceReport['rows'][number];
type Proportion = Row['ppv'];
type Metric = 'ppv' | 'missRate' | 'agreement' | 'sensitivity';

const METRICS: { key: Metric; label: string; help: string }[] = [
  { key: 'ppv', label: 'PPV of findings', help: 'confirmed ÷ (confirmed + dismissed)' },
  { key: 'missRate', label: 'Studies with a miss', help: 'reviewed studies with a finding the model missed' },
  { key: 'agreement', label: 'Agreement with assessment', help: 'model call = BI-RADS call (0, 4–6 positive)' },
  { key: 'sensitivity', label: 'Sensitivity', help: 'malignant outcomes the model reported' },
];

const pct = (v: number | null) => (v === null ? '—' : `${(v * 100).toFixed(1)} %`);

function figure(p: Proportion): HTMLElement {
  return el(
    'span',
    { title: p.n === 0 ? 'no samples yet' : `95 % interval ${pct(p.low)}–${pct(p.high)}` },
    pct(p.value),
    el('span', { class: 'muted' }, p.n === 0 ? '' : ` [${pct(p.low)}–${pct(p.high)}] n=${p.n}`),
  );
}

const monthSeconds = (month: string) => Date.parse(`${month}-01T00:00:00Z`) / 1000;

function table(label: string, rows: Row[], withClinic: boolean): HTMLElement {
  return el(
    'table',
    { class: 'table', 'aria-label': label },
    el(
      'thead',
      {},
      el(
        'tr',
        {},
        ...[
          'Model',
          ...(withClinic ? ['Clinic'] : []),
          'Judged findings (of those in reviewed studies)',
          ...METRICS.map((m) => m.label),
        ].map((h) => el('th', { scope: 'col' }, h)),
      ),
    ),
    el(
      'tbody',
      {},
      ...rows.map((row) =>
        el(
          'tr',
          {},
          el('td', {}, `${row.modelName} ${row.modelVersion}`),
          withClinic ? el('td', {}, row.clinicId ?? '—') : null,
          el(
            'td',
            { class: 'num' },
            `${row.confirmed + row.dismissed + row.uncertain} of ${row.confirmed + row.dismissed + row.uncertain + row.unjudged}`,
          ),
          ...METRICS.map((m) => el('td', {}, figure(row[m.key]))),
        ),
      ),
    ),
  );
}

/** Open ops alerts, each acknowledgeable by a user who may. */
function opsAlertList(items: OpsAlert[], canAcknowledge: boolean, reload: () => void): HTMLElement | null {
  return items.length > 0
    ? el(
        'section',
        { class: 'card', 'aria-labelledby': 'ops-alerts-title' },
        el('h2', { id: 'ops-alerts-title' }, 'Ops alerts'),
        el(
          'ul',
          { class: 'alert-list' },
          ...items.map((a) =>
            el(
              'li',
              { class: `alert alert-${a.severity === 'warning' ? 'warning' : 'info'}` },
              el('p', { class: 'alert-reason' }, a.summary),
              el(
                'div',
                { class: 'alert-foot' },
                el('span', { class: 'muted' }, `Raised ${fmtDateTime(a.createdAt)}`),
                canAcknowledge
                  ? el(
                      'button',
                      {
                        type: 'button',
                        class: 'btn btn-small',
                        onclick: async () => {
                          try {
                            await api('POST', `/ops-alerts/${encodeURIComponent(a.alertKey)}/acknowledge`, {});
                            toast('Ops alert acknowledged');
                            reload();
                          } catch (e) {
                            toast(e instanceof ApiError ? e.message : String(e), 'error');
                          }
                        },
                      },
                      'Acknowledge',
                    )
                  : null,
              ),
            ),
          ),
        ),
      )
    : null;
}

/** The changes between versions or months that the intervals say are real. */
function changesCard(r: PerformanceReport): HTMLElement | null {
  return r.changes.length > 0
    ? el(
        'section',
        { class: 'card', 'aria-labelledby': 'changes-title' },
        el('h2', { id: 'changes-title' }, 'Changes the intervals say are real'),
        el(
          'ul',
          {},
          ...r.changes.map((c) =>
            el(
              'li',
              { class: `change-${c.direction}` },
              `${METRICS.find((m) => m.key === c.metric)?.label}: ${c.from.label} ${pct(c.from.value)} → ${c.to.label} ${pct(c.to.value)} (${c.direction})${c.clinicId ? ` at ${c.clinicId}` : ''}`,
            ),
          ),
        ),
      )
    : null;
}

/** One chart per metric over the months (a line per model version), and the calibration curve. */
function drawCharts(charts: HTMLElement, r: PerformanceReport, versions: string[], months: string[]): void {
  for (const m of METRICS) {
    const box = el('div', { class: 'chart' });
    charts.append(el('div', { class: 'card' }, el('h3', {}, m.label), el('p', { class: 'muted' }, m.help), box));
    lineChart(box, {
      x: months.map(monthSeconds),
      yLabel: 'share',
      yRange: [0, 1],
      height: 200,
      series: versions.map((v) => ({
        label: v,
        values: months.map(
          (month) =>
            r.byMonth.find((row) => `${row.modelName} ${row.modelVersion}` === v && row.month === month)?.[m.key].value ?? null,
        ),
      })),
    });
  }
  const calibration = el('div', { class: 'chart' });
  charts.append(
    el(
      'div',
      { class: 'card' },
      el('h3', {}, 'Calibration'),
      el('p', { class: 'muted' }, 'Share of findings confirmed, by model score (a calibrated model follows the diagonal).'),
      calibration,
    ),
  );
  const centres = Array.from({ length: 10 }, (_, i) => i / 10 + 0.05);
  lineChart(calibration, {
    x: centres,
    xTime: false,
    xLabel: 'model score',
    yLabel: 'confirmed',
    yRange: [0, 1],
    height: 200,
    series: [
      { label: 'ideal', values: centres },
      ...r.calibration.map((c) => ({
        label: `${c.modelName} ${c.modelVersion}`,
        values: c.bins.map((b) => b.confirmed.value),
      })),
    ],
  });
}

/** Real-world performance from clinicians' verdicts: per model version, clinic and month. */
export async function renderPerformance(main: HTMLElement, canAcknowledge = false): Promise<void> {
  const modelName = el('input', { id: 'f-model', placeholder: 'all models' });
  const from = el('input', { id: 'f-from', type: 'date' });
  const body = el('div', {});
  const params = () => ({
    modelName: modelName.value.trim() || undefined,
    from: from.value ? `${from.value}T00:00:00.000Z` : undefined,
  });
  const exportLink = el('a', { class: 'btn', href: '/api/v1/performance.csv', download: 'vigil-performance.csv' }, 'Export CSV');
  clear(
    main,
    pageHeader(
      'Model performance',
      'From clinicians’ verdicts on the model’s findings, their assessments and known outcomes. Each figure: value [95 % Wilson interval] and sample size.',
      exportLink,
    ),
    filterForm(
      'Performance filters',
      [
        ['Model', modelName],
        ['Results from', from],
      ],
      () => void load(),
    ),
    body,
  );

  async function load(): Promise<void> {
    const q = query(params());
    exportLink.setAttribute('href', `/api/v1/performance.csv${q}`);
    const [r, alerts] = await Promise.all([
      api<PerformanceReport>('GET', `/performance${q}`),
      api<{ items: OpsAlert[] }>('GET', '/ops-alerts?open=true'),
    ]);
    const alertList = opsAlertList(alerts.items, canAcknowledge, () => void load());
    if (r.byVersion.length === 0) {
      clear(body, alertList, el('p', { class: 'muted card' }, 'No verdicts yet: figures appear as clinicians judge findings.'));
      return;
    }
    const versions = [...new Set(r.byMonth.map((m) => `${m.modelName} ${m.modelVersion}`))];
    const months = [...new Set(r.byMonth.map((m) => m.month ?? ''))].sort();
    const charts = el('div', { class: 'perf-grid' });
    clear(
      body,
      alertList,
      changesCard(r),
      el(
        'section',
        { class: 'card table-card', 'aria-labelledby': 'versions-title' },
        el('h2', { id: 'versions-title' }, 'Per model version'),
        table('Per model version', r.byVersion, false),
      ),
      el('h2', { class: 'section-title' }, 'Over time'),
      charts,
      el(
        'section',
        { class: 'card table-card', 'aria-labelledby': 'clinics-title' },
        el('h2', { id: 'clinics-title' }, 'Per clinic'),
        table('Per clinic', r.byClinic, true),
      ),
    );
    drawCharts(charts, r, versions, months);
  }

  await load();
}
