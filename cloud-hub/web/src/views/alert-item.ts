import type { Alert } from '../../../src/api/api-types.js';
import { ApiError, api } from '../api.js';
import { el, fmtDateTime, shortKey, toast } from '../dom.js';

export type { Alert };

const KIND_LABEL: Record<Alert['kind'], string> = {
  growth: 'Growth',
  'new-finding': 'New finding',
  'resolved-finding': 'Finding no longer seen',
  'score-rise': 'Score rise',
  'category-upgrade': 'Category upgrade',
  overdue: 'Overdue follow-up',
};

/** One alert with its lifecycle actions; `onChange` runs after a transition. */
export function alertItem(a: Alert, onChange: () => void, showPatient = true): HTMLElement {
  async function transition(verb: 'acknowledge' | 'resolve'): Promise<void> {
    try {
      await api('POST', `/alerts/${encodeURIComponent(a.alertKey)}/${verb}`, {});
      toast(verb === 'acknowledge' ? 'Alert acknowledged' : 'Alert resolved');
      onChange();
    } catch (e) {
      toast(e instanceof ApiError ? e.message : String(e), 'error');
    }
  }
  const lifecycle =
    a.status === 'resolved'
      ? `Resolved by ${a.resolvedBy} ${fmtDateTime(a.resolvedAt)}`
      : a.status === 'acknowledged'
        ? `Acknowledged by ${a.acknowledgedBy} ${fmtDateTime(a.acknowledgedAt)}`
        : `Raised ${fmtDateTime(a.createdAt)}`;
  return el(
    'li',
    { class: `alert alert-${a.severity} alert-${a.status}`, 'data-alert-key': a.alertKey },
    el(
      'div',
      { class: 'alert-head' },
      el('span', { class: `sev sev-${a.severity}` }, a.severity === 'info' ? 'to review' : a.severity),
      el('strong', {}, KIND_LABEL[a.kind]),
      showPatient
        ? el(
            'a',
            { href: `#/patients/${a.patientKey}`, class: 'alert-patient', title: a.patientKey, 'data-patient-key': a.patientKey },
            `Patient ${shortKey(a.patientKey)}`,
          )
        : null,
      el(
        'span',
        { class: 'muted', title: 'the clinic and device whose result raised this alert' },
        `evidence: ${a.clinicId}${a.deviceId ? ` / ${a.deviceId}` : ''} · study ${a.studyDate}`,
      ),
      el('span', { class: `lifecycle lifecycle-${a.status}` }, a.status),
    ),
    el('p', { class: 'alert-reason' }, a.reason),
    el(
      'div',
      { class: 'alert-foot' },
      el('span', { class: 'muted' }, lifecycle, a.note ? ` — “${a.note}”` : ''),
      el(
        'span',
        { class: 'actions' },
        a.status === 'open'
          ? el('button', { type: 'button', class: 'btn btn-small', onclick: () => void transition('acknowledge') }, 'Acknowledge')
          : null,
        a.status !== 'resolved'
          ? el(
              'button',
              { type: 'button', class: 'btn btn-small btn-ghost', onclick: () => void transition('resolve') },
              'Resolve',
            )
          : null,
      ),
    ),
  );
}
