import './style.css';
import 'uplot/dist/uPlot.min.css';
import { ApiError, api, type Me, setCsrf } from './api.js';
import { clear, toast } from './dom.js';
import { forgetNames, showNames } from './reid.js';
import { forgetImages } from './viewer/edge-images.js';
import { renderAlerts } from './views/alerts.js';
import { renderAudit } from './views/audit.js';
import { renderDevice } from './views/device.js';
import { renderEnrolment } from './views/enrolment.js';
import { renderFleet } from './views/fleet.js';
import { renderLayout, type Section } from './views/layout.js';
import { renderLogin } from './views/login.js';
import { renderPatients } from './views/patients.js';
import { renderPerformance } from './views/performance.js';
import { renderResults } from './views/results.js';
import { renderRollout, renderRollouts } from './views/rollouts.js';
import { renderTimeline } from './views/timeline.js';

const app = document.getElementById('app') as HTMLElement;
let me: Me | null = null;
let events: EventSource | null = null;
let refreshCurrent: (() => void) | null = null;

const CLINICAL = new Set(['clinician', 'admin']);
const FLEET = new Set(['ops', 'admin']);

function home(role: Me['role']): string {
  return role === 'ops' ? '#/fleet' : '#/alerts';
}

async function loadMe(): Promise<Me | null> {
  try {
    me = await api<Me>('GET', '/auth/me');
    setCsrf(me.csrfToken);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) throw error;
    me = null;
  }
  return me;
}

function connectEvents(): void {
  events?.close();
  events = new EventSource('/api/v1/events');
  events.addEventListener('alert', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { alert: { kind: string; status: string; severity: string } };
    if (data.alert.status === 'open') toast(`New ${data.alert.severity} alert: ${data.alert.kind}`);
    refreshCurrent?.();
  });
  events.addEventListener('results', () => refreshCurrent?.());
  events.addEventListener('device', () => refreshCurrent?.());
  events.addEventListener('rollout', () => refreshCurrent?.());
  events.addEventListener('ops-alert', (e) => {
    const data = JSON.parse((e as MessageEvent<string>).data) as { summary: string };
    toast(`Ops alert: ${data.summary}`);
    refreshCurrent?.();
  });
}

async function route(): Promise<void> {
  if (!me) await loadMe();
  if (!me) {
    events?.close();
    renderLogin(app, async (result) => {
      me = result;
      setCsrf(result.csrfToken);
      location.hash = result.mfaEnrolmentRequired ? '#/enrol' : home(result.role);
      await route();
    });
    return;
  }
  if (me.mfaEnrolmentRequired) {
    renderEnrolment(app, async () => {
      const enrolled = await loadMe();
      location.hash = enrolled ? home(enrolled.role) : '#/';
      await route();
    });
    return;
  }
  const user: Me = me;
  const [, rawSection = '', param] = location.hash.split('/');
  const section = rawSection.split('?')[0];
  const allowed = (s: Section) =>
    s === 'performance' ||
    (s === 'fleet' || s === 'device' || s === 'rollouts' ? FLEET : s === 'audit' ? new Set(['admin']) : CLINICAL).has(user.role);
  const target = (['fleet', 'device', 'rollouts', 'results', 'patients', 'alerts', 'performance', 'audit'] as Section[]).find(
    (s) => s === section,
  );
  if (!target || !allowed(target)) {
    location.hash = home(user.role);
    return;
  }
  const main = renderLayout(app, user, target, async () => {
    await api('POST', '/auth/logout').catch(() => undefined);
    me = null;
    setCsrf(null);
    forgetNames();
    forgetImages();
    events?.close();
    location.hash = '#/';
    await route();
  });
  if (!events || events.readyState === EventSource.CLOSED) connectEvents();
  // The image viewer is most of the dashboard's code: fetched while the clinician is elsewhere,
  // so a patient's images open without waiting for it.
  if (CLINICAL.has(user.role))
    setTimeout(() => void import('./viewer/reading-panel.js').then((viewer) => viewer.warmViewer()).catch(() => undefined), 0);
  const views: Record<Section, () => Promise<void>> = {
    fleet: () => renderFleet(main),
    device: () => renderDevice(main, decodeURIComponent(param ?? '')),
    rollouts: () => (param ? renderRollout(main, decodeURIComponent(param)) : renderRollouts(main)),
    results: () => renderResults(main),
    patients: () => (param ? renderTimeline(main, decodeURIComponent(param)) : renderPatients(main)),
    alerts: () => renderAlerts(main),
    performance: () => renderPerformance(main, FLEET.has(user.role)),
    audit: () => renderAudit(main),
  };
  const render = views[target];
  // Live events refresh the page in view, at most every two seconds.
  let pending = false;
  refreshCurrent = () => {
    if (pending) return;
    pending = true;
    setTimeout(() => {
      pending = false;
      void render()
        .then(() => (target === 'patients' || target === 'alerts' ? showNames(main) : undefined))
        .catch(() => undefined);
    }, 2000);
  };
  try {
    await render();
    if (target === 'patients' || target === 'alerts') void showNames(main);
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) {
      me = null;
      await route();
      return;
    }
    clear(main, String(error instanceof Error ? error.message : error));
  }
}

window.addEventListener('hashchange', () => void route());
void route();
