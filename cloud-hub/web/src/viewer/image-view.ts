import { Enums, imageLoader, type Types, utilities } from '@cornerstonejs/core';
import { Enums as ToolEnums, ToolGroupManager } from '@cornerstonejs/tools';
import { el } from '../dom.js';
import { chestWallOnLeft, frameTimings, renderingEngine, TOOL_GROUP } from './cornerstone.js';
import type { EdgeImage } from './edge-images.js';

/** A mark on the image: the model's finding (circle) or the clinician's missed finding (square). */
export interface Mark {
  id: string;
  kind: 'finding' | 'missed';
  /** Normalised to the image, as findings travel. */
  x: number;
  y: number;
  diameterMm: number;
  label: string;
  selected?: boolean;
  /** The lesion followed across visits (compare mode). */
  tracked?: boolean;
  /** Dismissed findings are drawn faint and struck through. */
  dismissed?: boolean;
}

const SVG = 'http://www.w3.org/2000/svg';
function svg<K extends keyof SVGElementTagNameMap>(tag: K, attrs: Record<string, string | number>): SVGElementTagNameMap[K] {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/**
 * One Cornerstone stack viewport with the marks drawn over it in SVG, placed through the viewport's
 * own camera (image → world → canvas), so they follow zoom and pan. Shapes and labels, not only
 * colours, tell a finding from a missed one, and the selected and tracked lesions apart.
 */
export class ImageView {
  readonly element: HTMLElement;
  private readonly host: HTMLDivElement;
  private readonly overlay: SVGSVGElement;
  private readonly caption: HTMLElement;
  private viewport: Types.IStackViewport | undefined;
  private image: EdgeImage | undefined;
  private marks: Mark[] = [];
  /** When the image is on screen (performance.now()), for the reading-time figure. */
  shownAt: number | undefined;

  constructor(
    readonly id: string,
    title: string,
    private readonly onPlace: (x: number, y: number) => void,
    private readonly placing: () => boolean,
  ) {
    this.host = el('div', { class: 'viewport-canvas', 'data-viewport': id }) as HTMLDivElement;
    this.overlay = svg('svg', { class: 'viewport-marks', role: 'img', 'aria-label': `${title}: no marks` });
    this.caption = el('div', { class: 'viewport-caption' }, title);
    this.element = el('figure', { class: 'viewport', 'data-slot': id }, this.host, this.caption);
    this.host.append(this.overlay);
    // Cornerstone's tools take the mouse; a click without a drag comes as their MOUSE_CLICK event.
    this.host.addEventListener(ToolEnums.Events.MOUSE_CLICK, (e) =>
      this.click((e as CustomEvent<{ currentPoints: { world: Types.Point3 } }>).detail.currentPoints.world),
    );
    this.host.addEventListener('contextmenu', (e) => e.preventDefault());
    for (const event of [Enums.Events.IMAGE_RENDERED, Enums.Events.CAMERA_MODIFIED])
      this.host.addEventListener(event, () => this.draw());
  }

  setCaption(text: string): void {
    this.caption.textContent = text;
  }

  /** Shows an image (or a message instead); the viewport is made on first use, once on the page. */
  async show(image: EdgeImage | undefined, message = ''): Promise<void> {
    // The same image again (a refresh after a verdict or a live event): keep the clinician's zoom and window.
    if (image && this.viewport && this.image?.imageId === image.imageId && this.host.dataset.state === 'shown') return;
    this.image = image;
    this.host.dataset.state = image ? 'loading' : 'empty';
    this.host.querySelector('.viewport-message')?.remove();
    if (!image) {
      this.marks = [];
      if (this.viewport) {
        const engine = renderingEngine();
        ToolGroupManager.getToolGroup(TOOL_GROUP)?.removeViewports(engine.id, this.id);
        engine.disableElement(this.id);
        this.viewport = undefined;
      }
      this.host.append(el('p', { class: 'viewport-message' }, message));
      this.draw();
      return;
    }
    const engine = renderingEngine();
    const started = performance.now();
    try {
      await imageLoader.loadAndCacheImage(image.imageId);
    } catch {
      await this.show(undefined, 'The image could not be loaded from the clinic’s edge.');
      this.host.dataset.state = 'failed';
      return;
    }
    const loaded = performance.now();
    if (!this.viewport) {
      engine.enableElement({
        viewportId: this.id,
        type: Enums.ViewportType.STACK,
        element: this.host,
        defaultOptions: { background: [0, 0, 0] as Types.Point3 },
      });
      ToolGroupManager.getToolGroup(TOOL_GROUP)?.addViewport(this.id, engine.id);
      this.viewport = engine.getViewport(this.id) as Types.IStackViewport;
      this.host.append(this.overlay);
    }
    await this.viewport.setStack([image.imageId]);
    this.hang();
    this.shownAt = performance.now();
    this.host.dataset.state = 'shown';
    this.host.dataset.loadMs = String(Math.round(this.shownAt - started));
    this.host.dataset.drawMs = String(Math.round(this.shownAt - loaded));
    const timing = frameTimings.get(image.imageId);
    if (timing) {
      this.host.dataset.fetchMs = String(Math.round(timing.fetchMs));
      this.host.dataset.prepareMs = String(Math.round(timing.prepareMs));
    }
    this.host.dataset.shownAt = String(Math.round(this.shownAt));
  }

  setMarks(marks: Mark[]): void {
    this.marks = marks;
    this.draw();
  }

  resetCamera(): void {
    this.viewport?.resetCamera();
    this.viewport?.resetProperties();
    this.hang();
  }

  /**
   * Hangs the image as mammograms are read: right and left back to back, chest walls towards the
   * middle of the screen (a right breast with its chest wall on the image's left is mirrored).
   */
  private hang(): void {
    if (!this.viewport || !this.image) return;
    const left = chestWallOnLeft(this.image.imageId);
    const flip =
      left === undefined ? false : this.image.laterality === 'R' ? left : this.image.laterality === 'L' ? !left : false;
    this.viewport.setCamera({ flipHorizontal: flip });
    this.host.dataset.mirrored = String(flip);
    this.viewport.render();
  }

  /** Image pixel (column, row) → CSS pixels in this element, through the camera. */
  private toCanvas(column: number, row: number): [number, number] | undefined {
    if (!this.viewport || !this.image) return undefined;
    const world = utilities.imageToWorldCoords(this.image.imageId, [column, row]);
    if (!world) return undefined;
    const [cx, cy] = this.viewport.worldToCanvas(world);
    return [cx, cy];
  }

  private draw(): void {
    this.overlay.replaceChildren();
    const image = this.image;
    const described: string[] = [];
    if (image && this.viewport) {
      const { width, height } = this.host.getBoundingClientRect();
      this.overlay.setAttribute('viewBox', `0 0 ${width} ${height}`);
      this.overlay.setAttribute('width', String(width));
      this.overlay.setAttribute('height', String(height));
      // Where the image lies on screen (its first and past-last pixel), for tests and tools.
      const a = this.toCanvas(0, 0);
      const b = this.toCanvas(image.columns, image.rows);
      if (a && b) this.host.dataset.imageBox = [...a, ...b].map((v) => v.toFixed(1)).join(',');
      for (const m of this.marks) {
        const column = m.x * image.columns;
        const row = m.y * image.rows;
        const centre = this.toCanvas(column, row);
        const edge = this.toCanvas(column + m.diameterMm / 2 / image.pixelSpacing[1], row);
        if (!centre || !edge) continue;
        const r = Math.max(6, Math.hypot(edge[0] - centre[0], edge[1] - centre[1]));
        const g = svg('g', {
          class: `mark mark-${m.kind}${m.selected ? ' mark-selected' : ''}${m.tracked ? ' mark-tracked' : ''}${m.dismissed ? ' mark-dismissed' : ''}`,
          'data-mark': m.id,
          'data-cx': centre[0].toFixed(1),
          'data-cy': centre[1].toFixed(1),
        });
        g.append(
          m.kind === 'finding'
            ? svg('circle', { cx: centre[0], cy: centre[1], r })
            : svg('rect', { x: centre[0] - r, y: centre[1] - r, width: 2 * r, height: 2 * r }),
        );
        if (m.tracked) g.append(svg('circle', { class: 'mark-ring', cx: centre[0], cy: centre[1], r: r + 6 }));
        const text = svg('text', { x: centre[0] + r + 4, y: centre[1] - r });
        text.textContent = m.label;
        g.append(text);
        this.overlay.append(g);
        described.push(m.label);
      }
    }
    this.overlay.setAttribute(
      'aria-label',
      `${this.caption.textContent}: ${described.length === 0 ? 'no marks' : described.join('; ')}`,
    );
  }

  private click(world: Types.Point3): void {
    if (!this.placing() || !this.viewport || !this.image) return;
    const [column, row] = utilities.worldToImageCoords(this.image.imageId, world) ?? [Number.NaN, Number.NaN];
    const x = column / this.image.columns;
    const y = row / this.image.rows;
    if (x >= 0 && x <= 1 && y >= 0 && y <= 1) this.onPlace(x, y);
  }
}
