import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  color: string;
  /** Dashed line (reference lines: chance, ideal calibration). */
  dash?: boolean;
  /** Draw points only (calibration groups, observed weeks). */
  points?: boolean;
  /** Part of a band only: no line of its own, hidden from the legend's values. */
  bandEdge?: boolean;
}

export interface ChartBand {
  /** Indexes into `series` (0-based, without the x values) of the upper and lower edge. */
  upper: number;
  lower: number;
  fill: string;
}

export interface LineChartProps {
  title: string;
  x: number[];
  /** `time`: x holds seconds since 1970 (uPlot's time scale). */
  xKind: 'time' | 'number';
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  bands?: ChartBand[];
  /** Fix both axes to [0, 1] (ROC and calibration). */
  unitSquare?: boolean;
  locale: string;
  height?: number;
}

/**
 * A uPlot line chart sized to its container (redrawn when the container's width changes, so it reads at phone
 * width too). The figure is labelled with its title; the caller gives the same numbers as a table beside it.
 */
export function LineChart(props: LineChartProps) {
  const box = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const height = props.height ?? 280;
    const fmtDate = new Intl.DateTimeFormat(props.locale, {
      month: 'short',
      day: 'numeric',
      year: '2-digit',
      timeZone: 'UTC',
    });
    const opts: uPlot.Options = {
      width: Math.max(260, el.clientWidth),
      height,
      scales: {
        x: props.unitSquare ? { time: false, range: [0, 1] } : { time: props.xKind === 'time' },
        y: props.unitSquare
          ? { range: [0, 1] }
          : { range: (_u, min, max) => [Math.min(0, min), max > 0 ? max * 1.1 : 1] },
      },
      axes: [
        {
          label: props.xLabel,
          ...(props.xKind === 'time' && {
            // Room for a localised "12 Jan 26" or "26년 1월 12일" between ticks.
            space: 110,
            values: (_u: uPlot, splits: number[]) => splits.map((s) => fmtDate.format(new Date(s * 1000))),
          }),
        },
        { label: props.yLabel },
      ],
      series: [
        {
          label: props.xLabel,
          ...(props.xKind === 'time' && {
            // Room for a localised "12 Jan 26" or "26년 1월 12일" between ticks.
            space: 110,
            value: (_u: uPlot, v: number | null) => (v === null ? '—' : fmtDate.format(new Date(v * 1000))),
          }),
        },
        ...props.series.map((s) => ({
          label: s.label,
          stroke: s.bandEdge ? 'transparent' : s.color,
          width: s.bandEdge ? 0 : 2,
          ...(s.dash && { dash: [6, 6] }),
          ...(s.points
            ? { paths: () => null, points: { show: true, size: 7, fill: s.color, stroke: s.color } }
            : { points: { show: false } }),
          spanGaps: false,
        })),
      ],
      bands: (props.bands ?? []).map((b) => ({ series: [b.upper + 1, b.lower + 1] as [number, number], fill: b.fill })),
      legend: { show: true },
      cursor: { drag: { x: false, y: false } },
    };
    const data = [props.x, ...props.series.map((s) => s.values)] as uPlot.AlignedData;
    const plot = new uPlot(opts, data, el);
    const resize = new ResizeObserver(() => plot.setSize({ width: Math.max(260, el.clientWidth), height }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [props]);
  return (
    <figure class="chart">
      <figcaption>{props.title}</figcaption>
      <div ref={box} role="img" aria-label={props.title} />
    </figure>
  );
}
