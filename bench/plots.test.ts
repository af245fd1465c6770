// bench/plots.ts draws its charts headless: each SVG is one well-formed <svg> element that names
// its title, axes and every series or bar, and writePlots puts them where the report links them.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { barChartSvg, lineChartSvg, writePlots } from './plots.js';

/** A small well-formedness check: one root <svg>, every opened tag closed in order. */
function assertWellFormedSvg(svg: string): void {
  assert.match(svg, /^<svg[\s>]/);
  assert.match(svg, /<\/svg>\s*$/);
  const stack: string[] = [];
  for (const m of svg.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = m;
    if (selfClosing) continue;
    if (closing) assert.equal(stack.pop(), name, `</${name}> closes the wrong element at ${m.index}`);
    else stack.push(name!);
  }
  assert.deepEqual(stack, [], 'elements left open');
}

it('lineChartSvg renders a well-formed SVG with the title, axis titles and each series in the legend', async () => {
  const points = (f: (t: number) => number) => Array.from({ length: 60 }, (_, t) => ({ x: t, y: f(t) }));
  const svg = await lineChartSvg({
    title: 'Publish → row latency',
    xTitle: 'time since start (s)',
    yTitle: 'latency (ms)',
    yLog: true,
    series: [
      { name: 'p50', points: points((t) => 5 + (t % 7)) },
      { name: 'p99', points: points((t) => 40 + 10 * (t % 5)) },
      // A zero cannot sit on a log axis; it is left out rather than breaking the chart.
      { name: 'max', points: [{ x: 0, y: 0 }, { x: 1, y: 300 }] },
    ],
  });
  assertWellFormedSvg(svg);
  for (const text of ['Publish → row latency', 'time since start (s)', 'latency (ms)', 'p50', 'p99', 'max']) {
    assert.ok(svg.includes(text), `the SVG does not show ${JSON.stringify(text)}`);
  }
  assert.match(svg, /width="\d{3}"/);
});

it('barChartSvg renders each bar\'s label and value, with a legend when bars have groups', async () => {
  const svg = await barChartSvg({
    title: 'MQTT QoS 1 ingest vs alternatives',
    yTitle: 'readings/s',
    bars: [
      { label: 'gateway (durable)', value: 41234, group: 'ours' },
      { label: 'Mosquitto 2', value: 52000, group: 'alternative' },
      { label: 'aedes in memory', value: 60000, group: 'alternative' },
    ],
  });
  assertWellFormedSvg(svg);
  for (const text of ['MQTT QoS 1 ingest vs alternatives', 'readings/s', 'gateway (durable)', 'Mosquitto 2', 'aedes in memory', '>41,234</text>', '>ours</text>', '>alternative</text>']) {
    assert.ok(svg.includes(text), `the SVG does not show ${JSON.stringify(text)}`);
  }
  const ratios = await barChartSvg({ title: 'ratios', yTitle: '× Mosquitto', bars: [{ label: 'vs Mosquitto', value: 0.44123 }, { label: 'vs aedes', value: 0.4 }], rule: { value: 0.8, label: 'target 0.8×' } });
  assertWellFormedSvg(ratios);
  assert.ok(ratios.includes('>0.441</text>'), 'a ratio is printed with three significant digits');
  assert.equal(ratios.split('>vs aedes</text>').length - 1, 1, 'bars with no group get no legend repeating their labels');
  assert.ok(ratios.includes('>target 0.8×</text>'), 'the target line is labelled');
});

it('writePlots writes <dir>/<name>.svg for each plot and refuses a name that is a path', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-plots-'));
  try {
    const written = await writePlots(dir, {
      throughput: lineChartSvg({ title: 't', xTitle: 's', yTitle: 'readings/s', series: [{ name: 'in', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }] }] }),
      plain: '<svg xmlns="http://www.w3.org/2000/svg"></svg>',
    });
    assert.deepEqual(written, { throughput: join(dir, 'throughput.svg'), plain: join(dir, 'plain.svg') });
    assertWellFormedSvg(readFileSync(join(dir, 'throughput.svg'), 'utf8'));
    await assert.rejects(writePlots(dir, { '../escape': '<svg></svg>' }), /not a plain file name/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
