import type { AuditEntry, AuditVerification } from '../../../src/api/api-types.js';
import { api, type Page, query } from '../api.js';
import { clear, el, fmtDateTime, shortKey } from '../dom.js';
import { filterForm, pageHeader } from './layout.js';

/** The audit log, newest first, with a check of its hash chain. */
export async function renderAudit(main: HTMLElement): Promise<void> {
  const actor = el('input', { id: 'f-actor', placeholder: 'any' });
  const action = el('input', { id: 'f-action', placeholder: 'e.g. alert.acknowledge' });
  const body = el('tbody');
  const more = el('button', { type: 'button', class: 'btn' }, 'Load more');
  const chain = el('span', { class: 'chain', role: 'status' });
  let next: string | null = null;

  async function load(reset: boolean): Promise<void> {
    if (reset) {
      body.replaceChildren();
      next = null;
    }
    const page = await api<Page<AuditEntry>>(
      'GET',
      `/audit${query({ limit: 100, cursor: next, actor: actor.value.trim(), action: action.value.trim() })}`,
    );
    for (const e of page.items) {
      body.append(
        el(
          'tr',
          { class: e.outcome === 'failure' ? 'row-failure' : '' },
          el('td', { class: 'num' }, e.seq),
          el('td', {}, fmtDateTime(e.at)),
          el('td', {}, e.actor, el('span', { class: 'muted' }, ` (${e.actorRole})`)),
          el('td', {}, el('code', {}, e.action)),
          el(
            'td',
            {},
            `${e.targetType} ${e.targetType === 'patient' || e.targetType === 'alert' ? shortKey(e.targetId) : e.targetId}`,
          ),
          el('td', {}, e.patientKey ? el('a', { href: `#/patients/${e.patientKey}` }, shortKey(e.patientKey)) : '—'),
          el('td', {}, e.outcome),
          el('td', {}, e.ip),
          el('td', {}, el('code', { title: e.hash }, e.hash.slice(0, 10))),
        ),
      );
    }
    next = page.next;
    more.toggleAttribute('disabled', !next);
  }

  async function verify(): Promise<void> {
    const v = await api<AuditVerification>('GET', '/audit/verify');
    chain.className = `chain ${v.ok ? 'chain-ok' : 'chain-bad'}`;
    chain.textContent = v.ok ? `Hash chain intact (${v.entries} entries)` : `Hash chain BROKEN at entry ${v.firstBadSeq}`;
  }

  const filters = filterForm(
    'Filter the audit log',
    [
      ['Actor', actor],
      ['Action', action],
    ],
    () => void load(true),
  );
  more.addEventListener('click', () => void load(false));
  clear(
    main,
    pageHeader(
      'Audit log',
      'Every read of patient data and every change, append-only and hash-chained',
      chain,
      el('button', { type: 'button', class: 'btn', onclick: () => void verify() }, 'Verify chain'),
    ),
    filters,
    el(
      'div',
      { class: 'card table-card' },
      el(
        'table',
        { class: 'table', 'aria-label': 'Audit log' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['#', 'Time', 'Actor', 'Action', 'Target', 'Patient', 'Outcome', 'Address', 'Hash'].map((h) =>
              el('th', { scope: 'col' }, h),
            ),
          ),
        ),
        body,
      ),
    ),
    el('div', { class: 'pager' }, more),
  );
  await Promise.all([load(true), verify()]);
}
