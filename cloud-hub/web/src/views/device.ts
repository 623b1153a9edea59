import type { TelemetryPoint } from '../../../src/api/api-types.js';
import { api, type Page } from '../api.js';
import { lineChart } from '../charts.js';
import { clear, el, fmtAgo, fmtNumber } from '../dom.js';
import { type Device, statusBadge } from './fleet.js';
import { pageHeader } from './layout.js';

const CHARTS: { field: string; label: string; unit: string; measurement?: string }[] = [
  { field: 'cpu_utilization_pct', label: 'CPU', unit: '%' },
  { field: 'queue_depth', label: 'Pipeline queue depth', unit: 'images' },
  { field: 'outbox_depth', label: 'Outbox depth', unit: 'messages' },
  { field: 'total_ms', label: 'Inference latency (decode + preprocess + infer)', unit: 'ms', measurement: 'inference' },
];

/** One device: its state and telemetry charts for the last 24 hours. */
export async function renderDevice(main: HTMLElement, deviceId: string): Promise<void> {
  const d = await api<Device>('GET', `/devices/${encodeURIComponent(deviceId)}`);
  const grid = el('div', { class: 'chart-grid' });
  clear(
    main,
    pageHeader(
      d.deviceId,
      `${d.clinicId} · agent ${d.agentVersion ?? '—'} · last seen ${fmtAgo(d.lastSeenAt)}`,
      statusBadge(d.status),
    ),
    el(
      'section',
      { class: 'kpis' },
      ...[
        ['Model', d.model ? `${d.model.name} ${d.model.version}` : '—'],
        ['Provider', d.inferenceProvider ?? '—'],
        ...(d.inferenceCpuReason ? [['Why CPU', d.inferenceCpuReason] as [string, string]] : []),
        ['Images processed', fmtNumber(d.processed)],
        ['Outbox', fmtNumber(d.outboxDepth)],
        ['Oldest unsent', fmtNumber(d.outboxOldestAgeS, 0, ' s')],
      ].map(([label, value]) =>
        el(
          'div',
          { class: 'kpi' },
          el('div', { class: 'kpi-value' }, value ?? ''),
          el('div', { class: 'kpi-label' }, label ?? ''),
        ),
      ),
    ),
    d.pacs.length > 0
      ? el(
          'section',
          { class: 'card table-card', 'aria-labelledby': 'pacs-title' },
          el('h2', { id: 'pacs-title' }, 'Results to the PACS'),
          el(
            'table',
            { class: 'table', 'aria-label': 'PACS destinations' },
            el(
              'thead',
              {},
              el(
                'tr',
                {},
                ...['Destination', 'State', 'Queued', 'Delivered', 'Given up', 'Last delivered', 'Last error'].map((h) =>
                  el('th', { scope: 'col' }, h),
                ),
              ),
            ),
            el(
              'tbody',
              {},
              ...d.pacs.map((p) =>
                el(
                  'tr',
                  {},
                  el('td', {}, p.destination),
                  el(
                    'td',
                    {},
                    el(
                      'span',
                      { class: `badge ${p.state === 'ok' ? '' : p.state === 'retrying' ? 'badge-warn' : 'badge-bad'}` },
                      p.state,
                    ),
                  ),
                  el('td', { class: 'num' }, String(p.pending)),
                  el('td', { class: 'num' }, String(p.delivered)),
                  el('td', { class: 'num' }, String(p.failed)),
                  el('td', {}, fmtAgo(p.lastDeliveredAt)),
                  el('td', {}, p.lastError ? `${p.lastError.code}: ${p.lastError.message} (${fmtAgo(p.lastError.at)})` : '—'),
                ),
              ),
            ),
          ),
        )
      : null,
    grid,
  );
  for (const c of CHARTS) {
    const box = el('div', { class: 'chart' });
    grid.append(el('div', { class: 'card' }, el('h2', {}, c.label), box));
    const page = await api<Page<TelemetryPoint>>(
      'GET',
      `/telemetry?deviceId=${encodeURIComponent(deviceId)}&field=${c.field}&measurement=${c.measurement ?? 'device_telemetry'}&limit=2000`,
    );
    if (page.items.length === 0) {
      box.append(el('p', { class: 'muted' }, 'No samples in the last 24 hours.'));
      continue;
    }
    lineChart(box, {
      x: page.items.map((p) => Date.parse(p.t) / 1000),
      series: [{ label: c.label, values: page.items.map((p) => p.value) }],
      yLabel: c.unit,
      points: page.items.length < 60,
    });
  }
}
