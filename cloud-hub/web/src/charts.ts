import uPlot from 'uplot';

const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#4b5563'];

export interface LineSeries {
  label: string;
  /** y value per x; null where the series has no point. */
  values: (number | null)[];
}

/**
 * A responsive uPlot line chart; x in seconds since the epoch (or plain numbers with `xTime: false`).
 * Returns a function that removes it.
 */
export function lineChart(
  container: HTMLElement,
  o: {
    x: number[];
    series: LineSeries[];
    yLabel: string;
    xLabel?: string;
    height?: number;
    points?: boolean;
    xTime?: boolean;
    yRange?: [number, number];
  },
): () => void {
  container.replaceChildren();
  const width = () => Math.max(280, container.clientWidth - 8);
  const plot = new uPlot(
    {
      width: width(),
      height: o.height ?? 220,
      scales: { x: { time: o.xTime ?? true }, ...(o.yRange ? { y: { range: o.yRange } } : {}) },
      axes: [
        { stroke: '#475569', grid: { stroke: '#e2e8f0' }, ...(o.xLabel ? { label: o.xLabel } : {}) },
        { label: o.yLabel, stroke: '#475569', grid: { stroke: '#e2e8f0' } },
      ],
      series: [
        {},
        ...o.series.map((s, i) => ({
          label: s.label,
          stroke: PALETTE[i % PALETTE.length],
          width: 2,
          spanGaps: true,
          points: { show: o.points ?? true, size: 7 },
        })),
      ],
    },
    [o.x, ...o.series.map((s) => s.values)] as uPlot.AlignedData,
    container,
  );
  const observer = new ResizeObserver(() => plot.setSize({ width: width(), height: o.height ?? 220 }));
  observer.observe(container);
  return () => {
    observer.disconnect();
    plot.destroy();
  };
}
