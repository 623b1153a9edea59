import type {
  GateFigure,
  ModelEntry,
  RolloutInfo as Rollout,
  RolloutDetail,
  RolloutStarted,
} from '../../../src/api/api-types.js';
import { ApiError, api, type Page } from '../api.js';
import { clear, el, fmtAgo, fmtDateTime, toast } from '../dom.js';
import { pageHeader } from './layout.js';

export type { Rollout };

const GATE_LABEL: Record<GateFigure['gate'], string> = {
  'install-failures': 'Install failures',
  'error-rate': 'Inference error rate',
  'p95-latency': 'p95 latency (ms)',
  'score-drift': 'Score drift (PSI)',
  'verdict-agreement': "Agreement with clinicians' verdicts (PPV)",
};

export function stateBadge(state: string): HTMLElement {
  return el('span', { class: `rstate rstate-${state}` }, state);
}

function startForm(models: ModelEntry[], onStarted: (id: string) => void): HTMLElement {
  const published = models.filter((m) => m.published);
  const model = el(
    'select',
    { id: 'r-model' },
    ...published.map((m) =>
      el('option', { value: `${m.name}@${m.version}` }, `${m.name} ${m.version}${m.devices ? ` (on ${m.devices})` : ''}`),
    ),
  );
  const waves = el('input', { id: 'r-waves', value: '1,10%,50%,100%' });
  const bake = el('input', { id: 'r-bake', type: 'number', min: '0', value: '300' });
  const mode = el(
    'select',
    { id: 'r-mode' },
    el('option', { value: 'active' }, 'active'),
    el('option', { value: 'shadow' }, 'shadow'),
  );
  const minSamples = el('input', { id: 'r-samples', type: 'number', min: '0', value: '20' });
  const maxPsi = el('input', { id: 'r-psi', type: 'number', min: '0', step: '0.05', value: '0.25' });
  const onTrip = el(
    'select',
    { id: 'r-trip' },
    el('option', { value: 'rollback' }, 'roll back'),
    el('option', { value: 'pause' }, 'pause'),
  );
  const form = el(
    'form',
    { class: 'card start-form', 'aria-labelledby': 'start-title' },
    el('h2', { id: 'start-title' }, 'Start a rollout'),
    el(
      'div',
      { class: 'form-grid' },
      el('label', { for: 'r-model' }, 'Model'),
      model,
      el('label', { for: 'r-waves' }, 'Waves (cumulative)'),
      waves,
      el('label', { for: 'r-bake' }, 'Bake time per wave (s)'),
      bake,
      el('label', { for: 'r-mode' }, 'Mode'),
      mode,
      el('label', { for: 'r-trip' }, 'When a gate trips'),
      onTrip,
      el('label', { for: 'r-samples' }, 'Results needed before drift/latency gates pass'),
      minSamples,
      el('label', { for: 'r-psi' }, 'Score-drift limit (PSI)'),
      maxPsi,
    ),
    el('button', { type: 'submit', class: 'btn btn-primary' }, 'Start rollout'),
  );
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const [name, version] = model.value.split('@');
    try {
      const r = await api<RolloutStarted>('POST', '/rollouts', {
        model: { name, version },
        waves: waves.value,
        bakeS: Number(bake.value),
        mode: mode.value,
        onTrip: onTrip.value,
        gates: { minSamples: Number(minSamples.value), maxPsi: Number(maxPsi.value) },
      });
      toast(`Rollout ${r.rollout.rolloutId} started${r.skipped.length ? ` (${r.skipped.length} devices skipped)` : ''}`);
      onStarted(r.rollout.rolloutId);
    } catch (error) {
      toast(error instanceof ApiError ? error.message : String(error), 'error');
    }
  });
  return form;
}

/** Rollouts: the start form, every rollout with its state, and the models in the registry and fleet. */
export async function renderRollouts(main: HTMLElement): Promise<void> {
  const [rollouts, models] = await Promise.all([api<Page<Rollout>>('GET', '/rollouts'), api<Page<ModelEntry>>('GET', '/models')]);
  clear(
    main,
    pageHeader('Rollouts', 'Signed model packages, staged waves, health gates and automatic rollback'),
    startForm(models.items, (id) => {
      location.hash = `#/rollouts/${id}`;
    }),
    el(
      'div',
      { class: 'card table-card' },
      el(
        'table',
        { class: 'table', 'aria-label': 'Rollouts' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['Rollout', 'Model', 'Mode', 'State', 'Wave', 'Started', 'By', 'Reason'].map((h) => el('th', { scope: 'col' }, h)),
          ),
        ),
        el(
          'tbody',
          {},
          ...rollouts.items.map((r) =>
            el(
              'tr',
              {},
              el('td', {}, el('a', { href: `#/rollouts/${r.rolloutId}` }, r.rolloutId)),
              el('td', {}, `${r.model.name} ${r.model.version}`),
              el('td', {}, r.mode),
              el('td', {}, stateBadge(r.state)),
              el('td', { class: 'num' }, String(r.currentWave + 1)),
              el('td', {}, fmtDateTime(r.createdAt)),
              el('td', {}, r.createdBy),
              el('td', { class: 'wrap' }, r.reason ?? ''),
            ),
          ),
        ),
      ),
    ),
    el(
      'div',
      { class: 'card table-card' },
      el('h2', {}, 'Models'),
      el(
        'table',
        { class: 'table', 'aria-label': 'Models' },
        el(
          'thead',
          {},
          el(
            'tr',
            {},
            ...['Model', 'Version', 'In registry', 'Signing key', 'Devices running it'].map((h) => el('th', { scope: 'col' }, h)),
          ),
        ),
        el(
          'tbody',
          {},
          ...models.items.map((m) =>
            el(
              'tr',
              {},
              el('td', {}, m.name),
              el('td', {}, m.version),
              el('td', {}, m.published ? `yes, ${fmtDateTime(m.publishedAt)}` : 'no (cannot be rolled back to)'),
              el('td', {}, m.keyId ? el('code', {}, m.keyId) : '—'),
              el('td', { class: 'num' }, m.devices),
            ),
          ),
        ),
      ),
    ),
  );
}

/** One wave: its devices' progress as a bar and a table. */
function waveCard(r: RolloutDetail['rollout'], devices: RolloutDetail['devices'], w: number, waveCount: number): HTMLElement {
  const ds = devices.filter((d) => d.wave === w);
  const by = (state: string) => ds.filter((d) => d.state === state).length;
  const c = { total: ds.length, installed: by('installed'), failed: by('failed'), back: by('rolled-back') };
  const status = w < r.currentWave ? 'done' : w === r.currentWave ? 'current' : 'waiting';
  return el(
    'div',
    { class: `card wave wave-${status}` },
    el(
      'h2',
      {},
      `Wave ${w + 1} of ${waveCount}`,
      el('span', { class: 'muted' }, ` · ${c.total} device${c.total === 1 ? '' : 's'} · ${status}`),
    ),
    el(
      'div',
      { class: 'bar', role: 'img', 'aria-label': `${c.installed} of ${c.total} installed, ${c.failed} failed` },
      el('span', { class: 'bar-ok', style: `width:${(100 * c.installed) / Math.max(1, c.total)}%` }),
      el('span', { class: 'bar-bad', style: `width:${(100 * c.failed) / Math.max(1, c.total)}%` }),
      el('span', { class: 'bar-back', style: `width:${(100 * c.back) / Math.max(1, c.total)}%` }),
    ),
    el(
      'table',
      { class: 'table', 'aria-label': `Wave ${w + 1} devices` },
      el(
        'thead',
        {},
        el('tr', {}, ...['Device', 'Clinic', 'Previous', 'State', 'Updated', 'Reason'].map((h) => el('th', { scope: 'col' }, h))),
      ),
      el(
        'tbody',
        {},
        ...devices
          .filter((d) => d.wave === w)
          .map((d) =>
            el(
              'tr',
              {},
              el('td', {}, d.deviceId),
              el('td', {}, d.clinicId),
              el('td', {}, d.previous ? d.previous.version : '—'),
              el('td', {}, el('span', { class: `dstate dstate-${d.state}` }, d.state)),
              el('td', {}, fmtAgo(d.updatedAt)),
              el('td', { class: 'wrap' }, d.reason ?? ''),
            ),
          ),
      ),
    ),
  );
}

/** One rollout: actions, gate figures and each wave's devices, refreshed live. */
export async function renderRollout(main: HTMLElement, rolloutId: string): Promise<void> {
  const { rollout: r, devices } = await api<RolloutDetail>('GET', `/rollouts/${encodeURIComponent(rolloutId)}`);
  const waveCount = Math.max(0, ...devices.map((d) => d.wave)) + 1;
  const act = async (action: string) => {
    try {
      await api('POST', `/rollouts/${encodeURIComponent(rolloutId)}/${action}`, {});
      toast(`Rollout ${action} requested`);
      await renderRollout(main, rolloutId);
    } catch (error) {
      toast(error instanceof ApiError ? error.message : String(error), 'error');
    }
  };
  const button = (label: string, action: string, when: boolean, kind = '') =>
    when ? el('button', { type: 'button', class: `btn ${kind}`, onclick: () => void act(action) }, label) : null;
  const actions = [
    button('Pause', 'pause', r.state === 'running'),
    button('Resume', 'resume', r.state === 'paused', 'btn-primary'),
    button('Abort', 'abort', r.state === 'running' || r.state === 'paused'),
    button('Roll back', 'rollback', ['running', 'paused', 'completed', 'aborted'].includes(r.state), 'btn-danger'),
  ].filter((b): b is HTMLButtonElement => b !== null);
  clear(
    main,
    pageHeader(
      `Rollout ${r.rolloutId}`,
      `${r.model.name} ${r.model.version} · ${r.mode} mode · bake ${r.spec.bakeS} s per wave · on trip: ${r.spec.onTrip} · started ${fmtDateTime(r.createdAt)} by ${r.createdBy}`,
      stateBadge(r.state),
      ...actions,
    ),
    r.reason ? el('p', { class: `banner ${/tripped/.test(r.reason) ? 'banner-bad' : ''}`, role: 'status' }, r.reason) : null,
    el(
      'section',
      { class: 'kpis', 'aria-label': 'Health gates' },
      ...r.gates.map((g) =>
        el(
          'div',
          { class: `kpi gate gate-${g.status} ${g.status === 'fail' ? 'bad' : g.status === 'pass' ? 'good' : 'warn'}` },
          el('div', { class: 'kpi-value' }, g.value === null ? '—' : String(g.value)),
          el(
            'div',
            { class: 'kpi-label' },
            `${GATE_LABEL[g.gate]} · ${g.gate === 'verdict-agreement' ? 'active' : 'limit'} ${g.threshold} · ${g.status}${g.samples ? ` · n=${g.samples}` : ''}`,
          ),
          g.detail ? el('div', { class: 'kpi-label muted' }, g.detail) : null,
        ),
      ),
    ),
    el(
      'section',
      { class: 'waves', 'aria-label': 'Waves' },
      ...Array.from({ length: waveCount }, (_, w) => waveCard(r, devices, w, waveCount)),
    ),
  );
}
