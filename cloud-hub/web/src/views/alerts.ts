import { api, type Page, query } from '../api.js';
import { clear, el } from '../dom.js';
import { type Alert, alertItem } from './alert-item.js';
import { pageHeader } from './layout.js';

/** The alerts inbox: open alerts first; filter by status and severity. */
export async function renderAlerts(main: HTMLElement): Promise<void> {
  const params = new URLSearchParams(location.hash.split('?')[1] ?? '');
  const status = el(
    'select',
    { id: 'f-status' },
    ...['open', 'acknowledged', 'resolved', ''].map((s) =>
      el('option', { value: s, selected: (params.get('status') ?? 'open') === s }, s || 'any'),
    ),
  );
  // The inbox holds changes with corroborating evidence (warning, critical); lower-confidence signals
  // are listed apart, "to review".
  const level = el(
    'select',
    { id: 'f-level' },
    ...[
      ['inbox', 'Inbox (warning and critical)'],
      ['review', 'To review'],
      ['', 'any'],
    ].map(([value = '', label]) =>
      el('option', { value, selected: (params.get('level') ?? (params.get('severity') ? '' : 'inbox')) === value }, label),
    ),
  );
  const severity = el(
    'select',
    { id: 'f-severity' },
    ...['', 'critical', 'warning', 'info'].map((s) =>
      el('option', { value: s, selected: (params.get('severity') ?? '') === s }, s === 'info' ? 'to review' : s || 'any'),
    ),
  );
  const counts = el('p', { class: 'muted', 'aria-live': 'polite' });
  const list = el('ul', { class: 'alert-list' });
  const more = el('button', { type: 'button', class: 'btn' }, 'Load more');
  let next: string | null = null;

  async function load(reset: boolean): Promise<void> {
    if (reset) {
      list.replaceChildren();
      next = null;
    }
    const page = await api<Page<Alert>>(
      'GET',
      `/alerts${query({ limit: 50, cursor: next, status: status.value, level: level.value, severity: severity.value })}`,
    );
    for (const a of page.items) list.append(alertItem(a, () => void load(true)));
    if (reset && page.items.length === 0) list.append(el('li', { class: 'empty muted' }, 'Nothing here.'));
    next = page.next;
    more.toggleAttribute('disabled', !next);
  }

  /** How many open alerts each level holds, so the "to review" list is never out of sight. */
  async function count(): Promise<void> {
    const [inbox, review] = await Promise.all(
      (['inbox', 'review'] as const).map((l) =>
        api<Page<Alert>>('GET', `/alerts${query({ limit: 200, status: 'open', level: l })}`),
      ),
    );
    const n = (p: Page<Alert> | undefined) => `${p?.items.length ?? 0}${p?.next ? '+' : ''}`;
    counts.textContent = `Open: ${n(inbox)} in the inbox, ${n(review)} to review`;
  }

  status.addEventListener('change', () => void load(true));
  level.addEventListener('change', () => void load(true));
  severity.addEventListener('change', () => {
    // A severity names its own level: "to review" (info) is never in the inbox.
    if (severity.value) level.value = '';
    void load(true);
  });
  more.addEventListener('click', () => void load(false));
  clear(
    main,
    pageHeader('Alerts', 'Growth, new findings, category changes and missed follow-ups across the network'),
    el(
      'div',
      { class: 'filters' },
      el('label', { for: 'f-level' }, 'Level'),
      level,
      el('label', { for: 'f-status' }, 'Status'),
      status,
      el('label', { for: 'f-severity' }, 'Severity'),
      severity,
    ),
    counts,
    el('section', { class: 'card' }, list),
    el('div', { class: 'pager' }, more),
  );
  await Promise.all([load(true), count()]);
}
