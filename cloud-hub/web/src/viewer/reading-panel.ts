import type { Timeline } from '../../../src/api/api-types.js';
import { clear, el } from '../dom.js';
import { type FindingValue, REASONS, send } from '../views/verdicts.js';
import { registerImages, renderingEngine, setPlacing } from './cornerstone.js';
import { type EdgeImage, studyImages } from './edge-images.js';
import { ImageView } from './image-view.js';
import {
  marksFor,
  renderFindings,
  renderTrend,
  type Series,
  type ShownFinding,
  SIDE,
  seriesStudy,
  trackedIn,
} from './reading-marks.js';

/** Hanging protocol: right and left facing each other, CC above MLO (the screening four views). */
const SLOTS = [
  { laterality: 'R', view: 'CC' },
  { laterality: 'L', view: 'CC' },
  { laterality: 'R', view: 'MLO' },
  { laterality: 'L', view: 'MLO' },
] as const;

interface Visit {
  studyKey: string;
  studyDate: string;
}

const UNAVAILABLE = {
  'no-edge': 'Images unavailable: no edge of this clinic is reachable for your account right now.',
  unreachable: 'Images unavailable at the clinic right now: its edge did not answer. Everything else on this page still works.',
  refused: 'The clinic’s edge refused to show these images to this account.',
  'not-held': 'The clinic’s edge no longer holds this study (its retention policy removed it).',
} as const;

/**
 * Follow-up reading on a patient's timeline, with the images fetched by the browser from the
 * clinic's own edge: the four views of a visit, or one view of this visit beside the prior with the
 * tracked lesion ringed in both and its size over time beside them; stepping through the visits
 * swaps the images in place (no page reload). Findings are confirmed or dismissed here and missed
 * ones added by clicking on the image; every action has a key (the legend lists them).
 */
export class ReadingPanel {
  readonly element: HTMLElement;
  private t: Timeline;
  private visitIndex = -1;
  private mode: 'four' | 'compare' = 'four';
  private compareSlot = 0;
  private slotChosen = false;
  private selected: string | undefined;
  private placing = false;
  private readonly views: ImageView[];
  private readonly grid: HTMLElement;
  private readonly status: HTMLElement;
  private readonly toolbar: HTMLElement;
  private readonly findingsBox: HTMLElement;
  private readonly trend: HTMLElement;
  private readonly diameter: HTMLInputElement;
  private readonly reason: HTMLSelectElement;
  private shownFindings: ShownFinding[] = [];
  private renderSeq = 0;

  constructor(
    readonly patientKey: string,
    t: Timeline,
    private onChange: () => void,
  ) {
    this.t = t;
    this.views = [0, 1, 2, 3].map(
      (k) =>
        new ImageView(
          `vigil-view-${k}`,
          '',
          (x, y) => this.place(k, x, y),
          () => this.placing,
        ),
    );
    this.grid = el('div', { class: 'viewer-grid', 'data-mode': 'four' }, ...this.views.map((v) => v.element));
    this.status = el('p', { class: 'viewer-status', role: 'status', 'aria-live': 'polite' });
    this.diameter = el('input', {
      id: 'missed-diameter',
      class: 'input input-small',
      type: 'number',
      min: '1',
      max: '200',
      step: '1',
      value: '10',
    }) as HTMLInputElement;
    this.reason = el(
      'select',
      { id: 'dismiss-reason', class: 'input input-small', 'aria-label': 'Reason to dismiss' },
      ...REASONS.map((r) => el('option', { value: r }, r)),
    ) as HTMLSelectElement;
    this.toolbar = el('div', { class: 'viewer-toolbar' });
    this.findingsBox = el('div', { class: 'viewer-findings' });
    this.trend = el('div', { class: 'viewer-trend' });
    this.element = el(
      'section',
      { class: 'card viewer', 'aria-labelledby': 'viewer-title', 'data-viewer': patientKey },
      el('h2', { id: 'viewer-title' }, 'Images'),
      this.toolbar,
      this.status,
      el('div', { class: 'viewer-body' }, this.grid, el('aside', { class: 'viewer-side' }, this.trend, this.findingsBox)),
      el(
        'p',
        { class: 'muted viewer-keys' },
        'Keys: [ and ] step through visits · v four views / compare with prior · 1–4 choose the view to compare · n / p next / previous finding · y confirm · d dismiss (reason beside) · u uncertain · m add a missed finding by clicking · Esc cancel · r reset window and zoom. Mouse: left drag window/level, right drag or wheel zoom, middle drag pan.',
      ),
    );
  }

  private get visits(): Visit[] {
    return this.t.studies.filter((s) => s.analysable).map((s) => ({ studyKey: s.studyKey, studyDate: s.studyDate }));
  }

  /** New data (after a verdict, or a revisit of the page): the visit, mode and camera stay. */
  update(t: Timeline, onChange: () => void): void {
    this.t = t;
    this.onChange = onChange;
    if (this.visitIndex < 0 || this.visitIndex >= this.visits.length) this.visitIndex = this.visits.length - 1;
    void this.render();
  }

  /** The image of one slot: the edge's image of that laterality and view in that study. */
  private async imageFor(deviceId: string, studyKey: string, laterality: string, view: string) {
    const r = await studyImages(deviceId, studyKey);
    if (!r.ok) return { message: UNAVAILABLE[r.reason], reason: r.reason };
    registerImages(r.images);
    const image = r.images.filter((i) => i.laterality === laterality && i.view === view).at(-1);
    return image ? { image } : { message: 'This view is not at the clinic’s edge.', reason: 'not-held' as const };
  }

  /** The track of the selected finding, if it is one shown. */
  private selectedTrack(): string | undefined {
    return this.shownFindings.find((f) => `${f.resultId}:${f.index}` === this.selected)?.trackId;
  }

  async render(): Promise<void> {
    const seq = ++this.renderSeq;
    this.element.dataset.renderStartedAt ??= String(Math.round(performance.now()));
    const visits = this.visits;
    if (this.visitIndex < 0) this.visitIndex = visits.length - 1;
    const visit = visits[this.visitIndex];
    const prior = visits[this.visitIndex - 1];
    this.renderToolbar(visit, prior);
    this.grid.dataset.mode = this.mode;
    if (!visit) {
      this.status.textContent = 'No study with visible tissue to show.';
      return;
    }
    const failures = new Set<string>();
    const jobs: Promise<void>[] = [];
    const shown: ShownFinding[] = [];
    let trendSeries: Series | undefined;
    let trendTrack: string | undefined;
    const fill = (k: number, laterality: string, view: string, v: Visit | undefined, when: string) => {
      const imageView = this.views[k] as ImageView;
      imageView.element.hidden = false;
      const title = `${SIDE[laterality] ?? laterality} ${view}${when ? ` · ${when}` : ''}${v ? ` · ${v.studyDate}` : ''}`;
      imageView.setCaption(title);
      const found = v ? seriesStudy(this.t, laterality, view, v.studyKey) : undefined;
      if (!found || !v) {
        jobs.push(imageView.show(undefined, v ? 'No image of this view in this visit.' : 'No prior visit.'));
        imageView.setMarks([]);
        return;
      }
      const tracked = this.mode === 'compare' ? trackedIn(found.s, found.st, this.selectedTrack()) : undefined;
      const { marks, findings } = marksFor(this.t, found.s, found.st, { trackId: tracked, selected: this.selected });
      if (when !== 'prior') shown.push(...findings);
      jobs.push(
        (async () => {
          const r = await this.imageFor(found.st.deviceId, v.studyKey, laterality, view);
          if (seq !== this.renderSeq) return;
          if ('image' in r && r.image) {
            await imageView.show(r.image as EdgeImage);
            imageView.setMarks(marks);
          } else {
            failures.add(r.message);
            await imageView.show(undefined, r.reason === 'not-held' ? r.message : 'Image unavailable (see above).');
          }
        })(),
      );
    };
    if (this.mode === 'four') {
      for (const [k, slot] of SLOTS.entries()) fill(k, slot.laterality, slot.view, visit, '');
    } else {
      const slot = SLOTS[this.compareSlot] ?? SLOTS[0];
      fill(0, slot.laterality, slot.view, prior, 'prior');
      fill(1, slot.laterality, slot.view, visit, 'current');
      for (const k of [2, 3]) {
        const v = this.views[k] as ImageView;
        v.element.hidden = true;
      }
      const found = seriesStudy(this.t, slot.laterality, slot.view, visit.studyKey);
      if (found) {
        trendSeries = found.s;
        trendTrack = trackedIn(found.s, found.st, this.selectedTrack());
      }
    }
    this.shownFindings = shown;
    if (this.selected && !shown.some((f) => `${f.resultId}:${f.index}` === this.selected)) this.selected = undefined;
    renderFindings(this.findingsBox, this.t, this.shownFindings, {
      selected: this.selected,
      reason: this.reason,
      select: (id) => this.select(id),
      judge: (id, verdict) => this.judge(id, verdict),
    });
    renderTrend(this.trend, this.mode === 'compare' ? trendSeries : undefined, trendTrack);
    this.status.textContent = '';
    await Promise.all(jobs);
    if (seq !== this.renderSeq) return;
    this.status.textContent = [...failures].join(' ');
    this.element.dataset.rendered = String(seq);
  }

  private renderToolbar(visit: Visit | undefined, prior: Visit | undefined): void {
    const visits = this.visits;
    const button = (label: string, attrs: Record<string, string | boolean | (() => void)>) =>
      el('button', { type: 'button', class: 'btn btn-small', ...attrs }, label);
    clear(
      this.toolbar,
      button('◀ Earlier visit', {
        'aria-keyshortcuts': '[',
        disabled: this.visitIndex <= 0,
        onclick: () => this.step(-1),
      }),
      el(
        'span',
        { class: 'viewer-visit', 'data-visit': visit?.studyDate ?? '' },
        visit ? `Visit ${this.visitIndex + 1} of ${visits.length} · ${visit.studyDate}` : '—',
        prior && this.mode === 'compare' ? ` (prior ${prior.studyDate})` : '',
      ),
      button('Later visit ▶', {
        'aria-keyshortcuts': ']',
        disabled: this.visitIndex >= visits.length - 1,
        onclick: () => this.step(1),
      }),
      button('Compare with prior', {
        'aria-keyshortcuts': 'v',
        'aria-pressed': this.mode === 'compare' ? 'true' : 'false',
        onclick: () => this.toggleMode(),
      }),
      this.mode === 'compare'
        ? el(
            'span',
            { class: 'viewer-compare-views', role: 'group', 'aria-label': 'View to compare' },
            ...SLOTS.map((s, k) =>
              button(`${s.laterality}${s.view}`, {
                'aria-pressed': this.compareSlot === k ? 'true' : 'false',
                'aria-keyshortcuts': String(k + 1),
                onclick: () => this.chooseSlot(k),
              }),
            ),
          )
        : null,
      button(this.placing ? 'Click on the image… (Esc cancels)' : 'Add missed finding', {
        class: `btn btn-small${this.placing ? ' btn-primary' : ''}`,
        'aria-keyshortcuts': 'm',
        'aria-pressed': this.placing ? 'true' : 'false',
        onclick: () => this.setPlacingMode(!this.placing),
      }),
      el('label', { for: 'missed-diameter' }, 'Missed diameter (mm)'),
      this.diameter,
      button('Reset view', { 'aria-keyshortcuts': 'r', onclick: () => this.resetViews() }),
    );
  }

  private step(delta: number): void {
    const next = this.visitIndex + delta;
    if (next < 0 || next >= this.visits.length) return;
    this.visitIndex = next;
    this.selected = undefined;
    void this.render();
  }

  private toggleMode(): void {
    this.mode = this.mode === 'four' ? 'compare' : 'four';
    if (this.mode === 'compare' && !this.slotChosen) this.compareSlot = this.slotOfLargestFinding();
    void this.render();
  }

  /** The view whose largest finding in this visit is the largest: the lesion a follow-up reading starts with. */
  private slotOfLargestFinding(): number {
    const visit = this.visits[this.visitIndex];
    let best = { slot: 0, mm: -1 };
    for (const [k, slot] of SLOTS.entries()) {
      const found = seriesStudy(this.t, slot.laterality, slot.view, visit?.studyKey);
      if (!found) continue;
      for (const t of found.s.tracks)
        for (const p of t.points)
          if (p.resultId === found.st.resultId && p.diameterMm > best.mm) best = { slot: k, mm: p.diameterMm };
    }
    return best.slot;
  }

  private chooseSlot(k: number): void {
    this.compareSlot = k;
    this.slotChosen = true;
    if (this.mode !== 'compare') this.mode = 'compare';
    void this.render();
  }

  private select(id: string | undefined): void {
    this.selected = id;
    void this.render();
  }

  private selectNext(delta: number): void {
    const ids = this.shownFindings.map((f) => `${f.resultId}:${f.index}`);
    if (ids.length === 0) return;
    const at = this.selected ? ids.indexOf(this.selected) : -1;
    this.select(ids[(at + delta + ids.length) % ids.length]);
  }

  private judge(id: string | undefined, verdict: FindingValue['verdict']): void {
    const f = this.shownFindings.find((x) => `${x.resultId}:${x.index}` === id);
    if (!f) return;
    this.selected = id;
    const reason = verdict === 'dismissed' ? { reason: this.reason.value as (typeof REASONS)[number] } : {};
    void send(
      { kind: 'finding', resultId: f.resultId, findingIndex: f.index, verdict, ...reason },
      `${f.label}: ${verdict}`,
      this.onChange,
    );
  }

  private setPlacingMode(on: boolean): void {
    this.placing = on;
    setPlacing(on);
    this.element.dataset.placing = String(on);
    void this.render();
  }

  /** A click in placing mode: a missed finding on that image, at that point. */
  private place(k: number, x: number, y: number): void {
    const visits = this.visits;
    const inCompare = this.mode === 'compare';
    const visit = inCompare && k === 0 ? visits[this.visitIndex - 1] : visits[this.visitIndex];
    const slot = inCompare ? SLOTS[this.compareSlot] : SLOTS[k];
    if (!visit || !slot) return;
    const found = seriesStudy(this.t, slot.laterality, slot.view, visit.studyKey);
    if (!found) return;
    const diameterMm = Math.min(200, Math.max(1, Number(this.diameter.value) || 10));
    this.setPlacingMode(false);
    void send({ kind: 'missed', resultId: found.st.resultId, x, y, diameterMm }, 'Missed finding added', this.onChange);
  }

  private resetViews(): void {
    for (const v of this.views) v.resetCamera();
  }

  onKey(e: KeyboardEvent): void {
    if (!this.element.isConnected || e.altKey || e.ctrlKey || e.metaKey) return;
    const target = e.target as HTMLElement | null;
    if (target && ['INPUT', 'SELECT', 'TEXTAREA'].includes(target.tagName)) return;
    const actions: Record<string, () => void> = {
      '[': () => this.step(-1),
      ']': () => this.step(1),
      v: () => this.toggleMode(),
      '1': () => this.chooseSlot(0),
      '2': () => this.chooseSlot(1),
      '3': () => this.chooseSlot(2),
      '4': () => this.chooseSlot(3),
      n: () => this.selectNext(1),
      p: () => this.selectNext(-1),
      y: () => this.judge(this.selected, 'confirmed'),
      d: () => this.judge(this.selected, 'dismissed'),
      u: () => this.judge(this.selected, 'uncertain'),
      m: () => this.setPlacingMode(!this.placing),
      Escape: () => this.setPlacingMode(false),
      r: () => this.resetViews(),
    };
    const action = actions[e.key];
    if (!action) return;
    e.preventDefault();
    action();
  }
}

/** Sets Cornerstone up ahead of the first patient opened (the dashboard calls it once the code is fetched). */
export function warmViewer(): void {
  renderingEngine();
}

let current: ReadingPanel | undefined;
document.addEventListener('keydown', (e) => current?.onKey(e));

/** The patient's reading panel: kept across re-renders of the same patient's page (visit, mode, camera stay). */
export function readingPanel(t: Timeline, patientKey: string, onChange: () => void): HTMLElement {
  if (current?.patientKey !== patientKey) {
    const panel = new ReadingPanel(patientKey, t, onChange);
    current = panel;
    // After the page has put the panel on screen: a viewport needs its element laid out.
    setTimeout(() => void panel.render(), 0);
  } else current.update(t, onChange);
  return current.element;
}
