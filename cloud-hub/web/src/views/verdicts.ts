import type { Timeline, Verdict, VerdictInput } from '../../../src/api/api-types.js';
import { ApiError, api } from '../api.js';
import { el, fmtDateTime, toast } from '../dom.js';

export type FindingValue = { verdict: 'confirmed' | 'dismissed' | 'uncertain'; reason?: string; note?: string };
export type MissedValue = { resultId: string; x: number; y: number; diameterMm: number; withdrawn?: boolean };

const VERDICT_LABEL: Record<FindingValue['verdict'], string> = {
  confirmed: 'Confirmed',
  dismissed: 'Dismissed',
  uncertain: 'Uncertain',
};
export const REASONS = ['benign', 'artefact', 'not-seen', 'duplicate'] as const;
const BIRADS = [
  '0 — incomplete',
  '1 — negative',
  '2 — benign',
  '3 — probably benign',
  '4 — suspicious',
  '5 — highly suggestive',
  '6 — known malignancy',
];

interface ImageFindings {
  resultId: string;
  laterality: string;
  view: string;
  findings: { index: number; x: number; y: number; diameterMm: number; score: number }[];
}

/** Each study's images and the model's findings on them, from the timeline's tracks. */
function studiesOf(t: Timeline): Map<string, ImageFindings[]> {
  const out = new Map<string, ImageFindings[]>();
  for (const s of t.series) {
    for (const st of s.studies) {
      const image: ImageFindings = { resultId: st.resultId, laterality: s.laterality, view: s.view, findings: [] };
      for (const track of s.tracks) {
        for (const p of track.points) {
          if (p.resultId === st.resultId)
            image.findings.push({ index: p.findingIndex, x: p.x, y: p.y, diameterMm: p.diameterMm, score: p.score });
        }
      }
      image.findings.sort((a, b) => a.index - b.index);
      out.set(st.studyKey, [...(out.get(st.studyKey) ?? []), image]);
    }
  }
  return out;
}

export async function send(input: VerdictInput, done: string, onChange: () => void): Promise<void> {
  try {
    await api<Verdict>('POST', '/verdicts', input);
    toast(done);
    onChange();
  } catch (e) {
    toast(e instanceof ApiError ? e.message : String(e), 'error');
  }
}

function verdictBadge(v: Verdict | undefined): HTMLElement {
  if (!v) return el('span', { class: 'verdict verdict-none' }, 'Not judged');
  const value = v.value as FindingValue;
  return el(
    'span',
    {
      class: `verdict verdict-${value.verdict}`,
      title: `${v.author} ${fmtDateTime(v.createdAt)}${v.supersedes ? ' (amended)' : ''}`,
    },
    VERDICT_LABEL[value.verdict],
    value.reason ? ` · ${value.reason}` : '',
  );
}

function findingRow(
  image: ImageFindings,
  f: ImageFindings['findings'][number],
  current: Verdict | undefined,
  onChange: () => void,
) {
  const reason = el(
    'select',
    { 'aria-label': `Reason to dismiss finding ${f.index + 1}`, class: 'input input-small' },
    ...REASONS.map((r) => el('option', { value: r }, r)),
  );
  const base = { kind: 'finding' as const, resultId: image.resultId, findingIndex: f.index };
  return el(
    'tr',
    { 'data-finding': `${image.resultId}:${f.index}` },
    el('td', {}, `${image.laterality} ${image.view}`),
    el('td', { class: 'num' }, `${f.diameterMm.toFixed(1)} mm`),
    el('td', { class: 'num' }, f.score.toFixed(2)),
    el('td', { class: 'num' }, `(${f.x.toFixed(2)}, ${f.y.toFixed(2)})`),
    el('td', {}, verdictBadge(current)),
    el(
      'td',
      { class: 'verdict-actions' },
      el(
        'button',
        {
          type: 'button',
          class: 'btn btn-small',
          onclick: () => void send({ ...base, verdict: 'confirmed' }, 'Finding confirmed', onChange),
        },
        'Confirm',
      ),
      reason,
      el(
        'button',
        {
          type: 'button',
          class: 'btn btn-small',
          onclick: () =>
            void send(
              { ...base, verdict: 'dismissed', reason: reason.value as (typeof REASONS)[number] },
              'Finding dismissed',
              onChange,
            ),
        },
        'Dismiss',
      ),
      el(
        'button',
        {
          type: 'button',
          class: 'btn btn-small btn-ghost',
          onclick: () => void send({ ...base, verdict: 'uncertain' }, 'Marked uncertain', onChange),
        },
        'Uncertain',
      ),
    ),
  );
}

/** A study's findings with the clinician's verdict on each, BI-RADS, and the missed findings. */
export function verdictPanel(t: Timeline, patientKey: string, onChange: () => void): HTMLElement {
  const current = new Map(t.verdicts.map((v) => [v.subject, v]));
  const byStudy = studiesOf(t);
  const studies = [...t.studies].reverse().filter((s) => s.analysable);
  return el(
    'section',
    { class: 'card', 'aria-labelledby': 'verdicts-title' },
    el('h2', { id: 'verdicts-title' }, 'Findings and verdicts'),
    el(
      'p',
      { class: 'muted' },
      'Confirm or dismiss each finding the model reported and give the study’s BI-RADS assessment; add what it missed by clicking on the image above. Verdicts can be amended; every change is kept.',
    ),
    ...studies.map((s) => {
      const images = byStudy.get(s.studyKey) ?? [];
      const findings = images.flatMap((image) => image.findings.map((f) => ({ image, f })));
      const assessment = current.get(`assessment:${s.studyKey}`)?.value as { birads: number } | undefined;
      const missed = t.verdicts.filter(
        (v) => v.kind === 'missed' && v.studyKey === s.studyKey && !(v.value as MissedValue).withdrawn,
      );
      const biradsId = `birads-${s.studyKey.slice(0, 12)}`;
      const birads = el(
        'select',
        { id: biradsId, class: 'input input-small input-wide' },
        el('option', { value: '' }, '—'),
        ...BIRADS.map((label, i) => el('option', { value: String(i), selected: assessment?.birads === i }, label)),
      );
      birads.addEventListener('change', () => {
        if (birads.value === '') return;
        void send(
          { kind: 'assessment', patientKey, studyKey: s.studyKey, birads: Number(birads.value) },
          'Assessment saved',
          onChange,
        );
      });
      return el(
        'div',
        { class: 'study-verdicts', 'data-study': s.studyKey },
        el('h3', {}, `Study ${s.studyDate} · ${s.clinicId}`),
        findings.length === 0
          ? el('p', { class: 'muted' }, 'The model reported no findings in this study.')
          : el(
              'table',
              { class: 'table', 'aria-label': `Findings of the study of ${s.studyDate}` },
              el(
                'thead',
                {},
                el('tr', {}, ...['View', 'Size', 'Score', 'Position', 'Verdict', ''].map((h) => el('th', { scope: 'col' }, h))),
              ),
              el(
                'tbody',
                {},
                ...findings.map(({ image, f }) =>
                  findingRow(image, f, current.get(`finding:${image.resultId}:${f.index}`), onChange),
                ),
              ),
            ),
        missed.length > 0
          ? el(
              'ul',
              { class: 'missed-list' },
              ...missed.map((m) => {
                const v = m.value as MissedValue;
                return el(
                  'li',
                  {},
                  `Missed by the model: ${v.diameterMm} mm at (${v.x.toFixed(2)}, ${v.y.toFixed(2)}) — ${m.author}`,
                  el(
                    'button',
                    {
                      type: 'button',
                      class: 'btn btn-small btn-ghost',
                      onclick: () =>
                        void send(
                          {
                            kind: 'missed',
                            resultId: v.resultId,
                            x: v.x,
                            y: v.y,
                            diameterMm: v.diameterMm,
                            missedId: m.subject.slice(7),
                            withdrawn: true,
                          },
                          'Missed finding withdrawn',
                          onChange,
                        ),
                    },
                    'Withdraw',
                  ),
                );
              }),
            )
          : null,
        el('div', { class: 'filters' }, el('label', { for: biradsId }, `BI-RADS for the study of ${s.studyDate}`), birads),
      );
    }),
  );
}
