// The bench's plots as SVG files docs/BENCHMARKS.md can link: vega-lite specs compiled to vega and
// rendered headless (renderer 'none', toSVG), so no browser is needed to draw them.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vega from 'vega';
import * as vl from 'vega-lite';
import type { TopLevelSpec } from 'vega-lite';

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface LineChartOptions {
  title: string;
  /** With the unit, e.g. "time since start (s)". */
  xTitle: string;
  yTitle: string;
  series: Series[];
  /** A log y axis, for latencies whose p99 is orders above the p50; values ≤ 0 are left out. */
  yLog?: boolean;
}

export interface Bar {
  label: string;
  value: number;
  /** Bars of the same group share a colour, e.g. "ours" and "alternative". */
  group?: string;
}

export interface BarChartOptions {
  title: string;
  yTitle: string;
  bars: Bar[];
  /** A dashed horizontal line, e.g. a target ratio ("target 0.8×"). */
  rule?: { value: number; label: string };
}

type LayerItem = Extract<TopLevelSpec, { layer: unknown }>['layer'][number];

const WIDTH = 720;
const HEIGHT = 300;

/** What every chart shares: size, title, a white background (the SVG is read on light and dark pages). */
function frame(title: string) {
  return { $schema: 'https://vega.github.io/schema/vega-lite/v6.json', title, width: WIDTH, height: HEIGHT, background: 'white' } as const;
}

/** Series over time: throughput, p50/p99 latency per second, RSS. One colour per series, named in the legend. */
export function lineChartSvg(opts: LineChartOptions): Promise<string> {
  const values = opts.series.flatMap((s) =>
    s.points.filter((p) => Number.isFinite(p.x) && Number.isFinite(p.y) && (!opts.yLog || p.y > 0)).map((p) => ({ series: s.name, x: p.x, y: p.y })),
  );
  const spec: TopLevelSpec = {
    ...frame(opts.title),
    data: { values },
    mark: { type: 'line', point: values.length <= 200, strokeWidth: 1.5 },
    encoding: {
      x: { field: 'x', type: 'quantitative', title: opts.xTitle },
      y: {
        field: 'y',
        type: 'quantitative',
        title: opts.yTitle,
        scale: opts.yLog ? { type: 'log' } : { zero: true },
      },
      // The domain lists every series, so one with no finite point still shows in the legend.
      color: { field: 'series', type: 'nominal', title: null, scale: { domain: opts.series.map((s) => s.name) }, legend: { orient: 'top', columns: 2, labelLimit: WIDTH / 2 - 30 } },
    },
  };
  return render(spec);
}

/** Ratios or figures side by side (ours vs the alternatives), each bar labelled with its value. */
export function barChartSvg(opts: BarChartOptions): Promise<string> {
  const grouped = opts.bars.some((b) => b.group !== undefined);
  const values = opts.bars.map((b) => ({ label: b.label, value: b.value, group: b.group ?? '' }));
  const groups = [...new Set(values.map((v) => v.group))];
  // Headroom above the tallest bar for its value label.
  const top = Math.max(0, opts.rule?.value ?? 0, ...values.map((v) => v.value).filter(Number.isFinite));
  const spec: TopLevelSpec = {
    ...frame(opts.title),
    data: { values },
    encoding: {
      y: { field: 'value', type: 'quantitative', title: opts.yTitle, scale: top > 0 ? { domainMax: top * 1.12 } : {} },
    },
    layer: [
      {
        // x lives here, not on the whole chart, so the target line spans the chart instead of
        // taking a slot of its own among the bars. Labels keep the caller's order ("ours" first).
        encoding: {
          x: { field: 'label', type: 'nominal', title: null, sort: null, axis: { labelAngle: values.length > 4 ? -25 : 0, labelLimit: values.length > 4 ? 220 : Math.floor(WIDTH / Math.max(1, values.length)) - 8 } },
        },
        layer: [
          {
            mark: { type: 'bar' },
            encoding: grouped ? { color: { field: 'group', type: 'nominal', title: null, scale: { domain: groups }, legend: { orient: 'top' } } } : {},
          },
          {
            mark: { type: 'text', dy: -6, baseline: 'bottom' },
            encoding: { text: { field: 'value', type: 'quantitative', format: valueFormat(values.map((v) => v.value)) } },
          },
        ],
      },
      ...(opts.rule
        ? [
            {
              data: { values: [opts.rule] },
              encoding: { y: { field: 'value', type: 'quantitative' } },
              layer: [
                { mark: { type: 'rule', strokeDash: [6, 4], color: '#c0392b', strokeWidth: 1.5 } },
                { mark: { type: 'text', align: 'right', baseline: 'bottom', dy: -3, x: WIDTH - 4, color: '#c0392b' }, encoding: { text: { field: 'label' } } },
              ],
            } satisfies LayerItem,
          ]
        : []),
    ],
  };
  return render(spec);
}

/** Counts print whole with thousands separators; ratios and other fractions with three significant digits. */
function valueFormat(values: readonly number[]): string {
  return values.every((v) => Number.isInteger(v)) ? ',d' : ',.3~r';
}

async function render(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

/** Writes each plot to `<dir>/<name>.svg`; returns the paths written, by name. */
export async function writePlots(dir: string, plots: Record<string, Promise<string> | string>): Promise<Record<string, string>> {
  mkdirSync(dir, { recursive: true });
  const written: Record<string, string> = {};
  for (const [name, svg] of Object.entries(plots)) {
    if (!/^[\w.-]+$/.test(name)) throw new Error(`plot name ${JSON.stringify(name)} is not a plain file name`);
    const path = join(dir, `${name}.svg`);
    writeFileSync(path, await svg);
    written[name] = path;
  }
  return written;
}
