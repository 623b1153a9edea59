import type { PatientSummary as Patient } from '../../../src/api/api-types.js';
import { api, type Page, query } from '../api.js';
import { clear, el, shortKey } from '../dom.js';
import { pageHeader } from './layout.js';

export function categoryBadge(category: number): HTMLElement {
  return el(
    'span',
    { class: `cat cat-${category}`, title: 'model-derived category (not a radiologist assessment)' },
    `Cat. ${category}`,
  );
}

/** Patients (pseudonymous keys) with their follow-up status; overdue ones can be listed alone. */
export async function renderPatients(main: HTMLElement): Promise<void> {
  const overdueOnly = el('input', { id: 'f-overdue', type: 'checkbox' });
  const body = el('tbody');
  const more = el('button', { type: 'button', class: 'btn' }, 'Load more');
  const today = new Date().toISOString().slice(0, 10);
  let next: string | null = null;

  async function load(reset: boolean): Promise<void> {
    if (reset) {
      body.replaceChildren();
      next = null;
    }
    const page = await api<Page<Patient>>(
      'GET',
      `/patients${query({ limit: 100, cursor: next, overdue: overdueOnly.checked || undefined })}`,
    );
    for (const p of page.items) {
      const overdue = p.dueDate !== null && p.dueDate < today;
      body.append(
        el(
          'tr',
          {},
          el(
            'td',
            {},
            el(
              'a',
              { href: `#/patients/${p.patientKey}`, title: p.patientKey, 'data-patient-key': p.patientKey },
              shortKey(p.patientKey),
            ),
          ),
          el('td', { title: 'every clinic with a study of this patient' }, p.clinicIds.join(', ')),
          el('td', { class: 'num' }, p.studies),
          el('td', {}, p.firstStudyDate),
          el('td', {}, p.lastStudyDate),
          el('td', {}, categoryBadge(p.category)),
          el('td', {}, p.dueDate ?? '—', overdue ? el('span', { class: 'badge badge-bad' }, 'overdue') : null),
          el('td', { class: 'num' }, p.openAlerts > 0 ? el('span', { class: 'badge badge-warn' }, p.openAlerts) : '0'),
        ),
      );
    }
    next = page.next;
    more.toggleAttribute('disabled', !next);
  }

  overdueOnly.addEventListener('change', () => void load(true));
  more.addEventListener('click', () => void load(false));
  clear(
    main,
    pageHeader('Patients', 'Pseudonymous patient keys: identities stay at the clinic'),
    el('div', { class: 'filters' }, overdueOnly, el('label', { for: 'f-overdue' }, 'Only patients overdue for follow-up')),
    el(
      'div',
      { class: 'card table-card' },
      el(
        'table',
        { class: 'table', 'aria-label': 'Patients' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['Patient', 'Clinic', 'Studies', 'First study', 'Last study', 'Category', 'Follow-up due', 'Open alerts'].map(
              (h) => el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        body,
      ),
    ),
    el('div', { class: 'pager' }, more),
  );
  await load(true);
}
