// One metric's chart: uPlot with the min/max band and the average line. Dragging across the plot
// selects a time range; the parent refetches it (a narrower range gets a finer bucket).
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import type { AggPoint } from '../api';

export interface ChartProps {
  metric: string;
  points: AggPoint[];
  fromMs: number;
  toMs: number;
  onZoom: (fromMs: number, toMs: number) => void;
}

type Series = [number[], (number | null)[], (number | null)[], (number | null)[]];

function toData(points: AggPoint[]): Series {
  const xs: number[] = [];
  const min: (number | null)[] = [];
  const max: (number | null)[] = [];
  const avg: (number | null)[] = [];
  for (const p of points) {
    xs.push(Date.parse(p.ts) / 1000);
    min.push(p.min);
    max.push(p.max);
    avg.push(p.avg);
  }
  return [xs, min, max, avg];
}

export function Chart(props: ChartProps) {
  const host = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const zoom = useRef(props.onZoom);
  zoom.current = props.onZoom;

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    const opts: uPlot.Options = {
      width: Math.max(300, el.clientWidth),
      height: 220,
      series: [
        {},
        { label: 'min', stroke: 'rgba(37, 99, 235, 0.35)', width: 1 },
        { label: 'max', stroke: 'rgba(37, 99, 235, 0.35)', width: 1 },
        { label: 'avg', stroke: '#1d4ed8', width: 2 },
      ],
      bands: [{ series: [2, 1], fill: 'rgba(37, 99, 235, 0.15)' }],
      scales: { x: { time: true } },
      axes: [{}, { size: 60 }],
      cursor: { drag: { x: true, y: false, setScale: false } },
      legend: { live: true },
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const from = u.posToVal(u.select.left, 'x');
            const to = u.posToVal(u.select.left + u.select.width, 'x');
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            zoom.current(Math.round(from * 1000), Math.round(to * 1000));
          },
        ],
      },
    };
    const u = new uPlot(opts, toData(props.points) as uPlot.AlignedData, el);
    plot.current = u;
    const ro = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: 220 }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      u.destroy();
      plot.current = null;
    };
  }, []);

  useEffect(() => {
    const u = plot.current;
    if (!u) return;
    u.setData(toData(props.points) as uPlot.AlignedData, false);
    u.setScale('x', { min: props.fromMs / 1000, max: props.toMs / 1000 });
  }, [props.points, props.fromMs, props.toMs]);

  return <div class="chart" ref={host} role="img" aria-label={`${props.metric}: ${props.points.length} points; drag across the chart to zoom`} />;
}
