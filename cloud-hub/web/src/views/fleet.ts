import type { DeviceSummary as Device } from '../../../src/api/api-types.js';
import { api, type Page } from '../api.js';
import { clear, el, fmtAgo, fmtNumber } from '../dom.js';
import { pageHeader } from './layout.js';

export type { Device };

function kpi(label: string, value: string, tone = ''): HTMLElement {
  return el('div', { class: `kpi ${tone}` }, el('div', { class: 'kpi-value' }, value), el('div', { class: 'kpi-label' }, label));
}

export function statusBadge(status: string): HTMLElement {
  return el('span', { class: `status status-${status}` }, el('span', { class: 'dot', 'aria-hidden': 'true' }), status);
}

/** Fleet overview: clinics, devices online/offline, model versions, queues, error rates, CPU/GPU. */
export async function renderFleet(main: HTMLElement): Promise<void> {
  const devices: Device[] = [];
  let cursor: string | null = null;
  do {
    const page: Page<Device> = await api('GET', `/devices?limit=500${cursor ? `&cursor=${cursor}` : ''}`);
    devices.push(...page.items);
    cursor = page.next;
  } while (cursor);
  const online = devices.filter((d) => d.status === 'online').length;
  const clinics = new Set(devices.map((d) => d.clinicId));
  const versions = new Set(devices.filter((d) => d.model).map((d) => `${d.model?.name} ${d.model?.version}`));
  const withErrors = devices.filter((d) => (d.errorRate ?? 0) > 0.05).length;
  const byClinic = new Map<string, Device[]>();
  for (const d of devices) byClinic.set(d.clinicId, [...(byClinic.get(d.clinicId) ?? []), d]);
  clear(
    main,
    pageHeader('Fleet', `${devices.length} edge devices in ${clinics.size} clinics`),
    el(
      'section',
      { class: 'kpis', 'aria-label': 'Fleet summary' },
      kpi('Clinics', String(clinics.size)),
      kpi('Devices online', `${online} / ${devices.length}`, online === devices.length ? 'good' : 'warn'),
      kpi('Offline', String(devices.length - online), devices.length - online > 0 ? 'bad' : 'good'),
      kpi('Model versions', String(versions.size), versions.size > 1 ? 'warn' : ''),
      kpi('Error rate > 5 %', String(withErrors), withErrors > 0 ? 'bad' : 'good'),
    ),
    el(
      'div',
      { class: 'card table-card' },
      el(
        'table',
        { class: 'table', 'aria-label': 'Devices' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...[
              'Clinic',
              'Device',
              'Status',
              'Model',
              'Provider',
              'Queue',
              'Outbox',
              'Error rate',
              'CPU',
              'GPU',
              'p95 latency',
              'Last seen',
            ].map((h) => el('th', { scope: 'col' }, h)),
          ),
        ),
        el(
          'tbody',
          {},
          ...[...byClinic.values()]
            .flat()
            .map((d) =>
              el(
                'tr',
                {},
                el('td', {}, d.clinicId),
                el('td', {}, el('a', { href: `#/device/${encodeURIComponent(d.deviceId)}` }, d.deviceId)),
                el('td', {}, statusBadge(d.revoked ? 'revoked' : d.status)),
                el('td', {}, d.model ? `${d.model.name} ${d.model.version}` : '—'),
                el('td', {}, d.inferenceProvider ?? '—'),
                el('td', { class: 'num' }, fmtNumber(d.queueDepth)),
                el('td', { class: 'num' }, fmtNumber(d.outboxDepth)),
                el(
                  'td',
                  { class: `num ${(d.errorRate ?? 0) > 0.05 ? 'text-bad' : ''}` },
                  d.errorRate === null ? '—' : `${(d.errorRate * 100).toFixed(1)} %`,
                ),
                el('td', { class: 'num' }, fmtNumber(d.cpuPct, 0, ' %')),
                el('td', { class: 'num' }, fmtNumber(d.gpuUtilizationPct, 0, ' %')),
                el('td', { class: 'num' }, fmtNumber(d.latencyP95Ms, 0, ' ms')),
                el('td', {}, fmtAgo(d.lastSeenAt)),
              ),
            ),
        ),
      ),
    ),
  );
}
