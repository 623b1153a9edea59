import type { Result } from '../../../src/api/api-types.js';
import { api, type Page, query } from '../api.js';
import { clear, el, fmtDateTime, shortKey } from '../dom.js';
import { filterForm, pageHeader } from './layout.js';

/** Results, newest first, filtered on the server and paged by cursor (fast with 100 000 rows). */
export async function renderResults(main: HTMLElement): Promise<void> {
  const clinic = el('input', { id: 'f-clinic', placeholder: 'any' });
  const minScore = el('input', { id: 'f-score', type: 'number', min: '0', max: '1', step: '0.05', placeholder: '0.0' });
  const body = el('tbody');
  const more = el('button', { type: 'button', class: 'btn' }, 'Load more');
  const count = el('span', { class: 'muted' });
  let next: string | null = null;
  let shown = 0;

  async function load(reset: boolean): Promise<void> {
    if (reset) {
      body.replaceChildren();
      next = null;
      shown = 0;
    }
    const page = await api<Page<Result>>(
      'GET',
      `/results${query({ limit: 100, cursor: next, clinicId: clinic.value.trim(), minScore: minScore.value })}`,
    );
    for (const r of page.items) {
      const largest = Math.max(0, ...r.findings.map((f) => f.diameterMm));
      body.append(
        el(
          'tr',
          {},
          el('td', {}, fmtDateTime(r.createdAt)),
          el('td', {}, r.clinicId),
          el('td', {}, r.deviceId),
          el('td', {}, el('a', { href: `#/patients/${r.patientKey}`, title: r.patientKey }, shortKey(r.patientKey))),
          el('td', {}, r.studyDate),
          el('td', {}, `${r.laterality} ${r.view}`),
          el(
            'td',
            { class: 'num' },
            el(
              'span',
              { class: `score ${r.score >= 0.6 ? 'score-high' : r.score >= 0.4 ? 'score-mid' : ''}` },
              r.score.toFixed(2),
            ),
          ),
          el('td', { class: 'num' }, r.findings.length),
          el('td', { class: 'num' }, largest > 0 ? `${largest.toFixed(1)} mm` : '—'),
          el('td', {}, `${r.model.name} ${r.model.version}`),
        ),
      );
    }
    shown += page.items.length;
    next = page.next;
    count.textContent = `${shown} shown${next ? '' : ' (all)'}`;
    more.toggleAttribute('disabled', !next);
  }

  const filters = filterForm(
    'Filter results',
    [
      ['Clinic', clinic],
      ['Minimum score', minScore],
    ],
    () => void load(true),
  );
  more.addEventListener('click', () => void load(false));
  clear(
    main,
    pageHeader('Results', 'De-identified inference results from every clinic, newest first'),
    filters,
    el(
      'div',
      { class: 'card table-card' },
      el(
        'table',
        { class: 'table', 'aria-label': 'Results' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['Received', 'Clinic', 'Device', 'Patient', 'Study date', 'View', 'Score', 'Findings', 'Largest', 'Model'].map(
              (h) => el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        body,
      ),
    ),
    el('div', { class: 'pager' }, count, more),
  );
  await load(true);
}
