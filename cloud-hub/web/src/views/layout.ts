import type { Me } from '../api.js';
import { clear, el } from '../dom.js';

export type Section = 'fleet' | 'device' | 'rollouts' | 'results' | 'patients' | 'alerts' | 'performance' | 'audit';

const NAV: { section: Section; label: string; roles: Me['role'][] }[] = [
  { section: 'alerts', label: 'Alerts', roles: ['clinician', 'admin'] },
  { section: 'patients', label: 'Patients', roles: ['clinician', 'admin'] },
  { section: 'results', label: 'Results', roles: ['clinician', 'admin'] },
  { section: 'fleet', label: 'Fleet', roles: ['ops', 'admin'] },
  { section: 'rollouts', label: 'Rollouts', roles: ['ops', 'admin'] },
  { section: 'performance', label: 'Model performance', roles: ['clinician', 'ops', 'admin'] },
  { section: 'audit', label: 'Audit log', roles: ['admin'] },
];

/** The application shell: brand, navigation for the user's role, user menu; returns the main area. */
export function renderLayout(root: HTMLElement, me: Me, current: Section, onLogout: () => void): HTMLElement {
  const main = el('main', { id: 'main', class: 'main', tabindex: '-1' });
  const active = current === 'device' ? 'fleet' : current;
  clear(
    root,
    el('a', { class: 'skip', href: '#main' }, 'Skip to content'),
    el(
      'header',
      { class: 'topbar' },
      el('div', { class: 'brand' }, el('span', { class: 'brand-mark', 'aria-hidden': 'true' }, 'V'), 'Vigil'),
      el(
        'nav',
        { class: 'nav', 'aria-label': 'Main' },
        ...NAV.filter((n) => n.roles.includes(me.role)).map((n) =>
          el(
            'a',
            {
              href: `#/${n.section}`,
              class: n.section === active ? 'active' : '',
              'aria-current': n.section === active ? 'page' : undefined,
            },
            n.label,
          ),
        ),
      ),
      el(
        'div',
        { class: 'user' },
        el('span', { class: 'user-name' }, me.displayName),
        el('span', { class: `role role-${me.role}` }, me.role),
        el('button', { type: 'button', class: 'btn btn-ghost', onclick: onLogout }, 'Sign out'),
      ),
    ),
    main,
    el(
      'footer',
      { class: 'footer' },
      'Vigil — model-derived findings are decision support from a demo model trained on synthetic data, not a diagnosis.',
    ),
  );
  return main;
}

export function pageHeader(title: string, subtitle?: string, ...actions: Node[]): HTMLElement {
  return el(
    'div',
    { class: 'page-header' },
    el('div', {}, el('h1', {}, title), subtitle ? el('p', { class: 'muted' }, subtitle) : null),
    el('div', { class: 'actions' }, ...actions),
  );
}

/** A filter bar: labelled inputs and an Apply button; `onApply` runs on submit. */
export function filterForm(label: string, fields: [string, HTMLInputElement][], onApply: () => void): HTMLFormElement {
  const form = el(
    'form',
    { class: 'filters', 'aria-label': label },
    ...fields.flatMap(([text, input]) => [el('label', { for: input.id }, text), input]),
    el('button', { type: 'submit', class: 'btn btn-primary' }, 'Apply'),
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    onApply();
  });
  return form;
}
