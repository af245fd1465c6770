// The plots and the latest-run section of docs/BENCHMARKS.md, made from what a run left in
// bench/results/latest.json and latest.md. `npm run bench` calls it at its end; after a change to
// how figures are presented, `node dist/bench/report.js` redraws them from the same run without
// measuring anything again.
import type { DrainLiveResult } from './drain-live.js';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../devstack/net.js';
import { replaceLatestSection } from './doc-section.js';
import type { FleetScaleResult } from './fleet-scale.js';
import type { GatewayResourcesResult } from './gateway-resources.js';
import type { MqttCompareResult } from './mqtt-compare.js';
import type { PipelineBenchResult } from './pipeline.js';
import { writePlots } from './plots.js';
import { runIfMain } from './run-alone.js';
import { plots, profilesMarkdown, targets, targetsMarkdown, namedFigures, type ProfileSummaries, type SummaryInputs } from './summary.js';
import type { WireResult } from './wire.js';

/** The parts of latest.json the report reads. */
export interface LatestResults {
  date: string;
  machine: { cores: number; cpu: string; memoryGiB: number; node: string; platform: string; tmpdir: string };
  source: { commit: string; uncommitted: string[] };
  /** Parts run with BENCH_ONLY left out and carried over from an earlier run: part → that run. */
  carried?: Record<string, { date: string; source: { commit: string } }>;
  mqttCompare: MqttCompareResult;
  wire: { load: WireResult; noisy: WireResult };
  gatewayResources: GatewayResourcesResult;
  pipelinePg: PipelineBenchResult & { profiles: ProfileSummaries };
  pipelinePgLow: PipelineBenchResult;
  pipelineEmbedded: PipelineBenchResult;
  fleetScale: FleetScaleResult;
  storeIngestPostgres: { ratio: number; storeRowsPerSecond: number; bareCopyRowsPerSecond: number };
  storeIngestPostgresDense: { ratio: number };
  backlogDrain: { drain: { readingsPerSecond: number } };
  mqttIngest: { readingsPerSecond: number };
  drainLive?: DrainLiveResult;
}

export function summaryInputs(r: LatestResults): SummaryInputs {
  return {
    compare: r.mqttCompare,
    wire: r.wire,
    resources: r.gatewayResources,
    pipelinePg: r.pipelinePg,
    pipelinePgLow: r.pipelinePgLow,
    pipelineEmbedded: r.pipelineEmbedded,
    sinkVsCopy: {
      ratio: r.storeIngestPostgres.ratio,
      ratioDense: r.storeIngestPostgresDense.ratio,
      storeRowsPerSecond: r.storeIngestPostgres.storeRowsPerSecond,
      bareCopyRowsPerSecond: r.storeIngestPostgres.bareCopyRowsPerSecond,
    },
    drain: { drainReadingsPerSecond: r.backlogDrain.drain.readingsPerSecond, liveReadingsPerSecond: r.mqttIngest.readingsPerSecond },
    fleet: r.fleetScale,
    ...(r.drainLive ? { drainLive: r.drainLive } : {}),
  };
}

/** Draws the plots into docs/bench/ and rewrites the latest run in docs/BENCHMARKS.md. */
export async function writeReport(root = repoRoot()): Promise<void> {
  const results = JSON.parse(readFileSync(join(root, 'bench', 'results', 'latest.json'), 'utf8')) as LatestResults;
  // latest.md is two header lines, a blank line, then the table of every figure.
  const table = readFileSync(join(root, 'bench', 'results', 'latest.md'), 'utf8').split('\n').slice(3).join('\n').trim();
  const inputs = summaryInputs(results);
  const goals = targets(namedFigures(inputs));
  const written = await writePlots(join(root, 'docs', 'bench'), plots(inputs));
  const { machine, source } = results;
  const when = `${results.date.slice(0, 16).replace('T', ' ')} UTC`;
  const body = [
    `## Latest run (${when}, source ${source.commit}${source.uncommitted.length ? ` with uncommitted changes in ${source.uncommitted.join(', ')}` : ''})`,
    '',
    `Machine: ${machine.cores} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.platform}; data directories in ${machine.tmpdir}. ${carriedSentence(results.carried)}bench/results/latest.json holds them all.`,
    '',
    '### Targets (issue 14, 2 cores)',
    '',
    targetsMarkdown(goals),
    '',
    '### Plots',
    '',
    ...Object.keys(written).map((name) => `![${name}](bench/${name}.svg)`),
    '',
    '### Where the time goes: CPU profiles of the whole-pipeline run (--cpu-prof)',
    '',
    profilesMarkdown(results.pipelinePg.profiles, results.pipelinePg.offeredReadingsPerSecond),
    '',
    '### Every figure',
    '',
    table,
  ].join('\n');
  const docPath = join(root, 'docs', 'BENCHMARKS.md');
  writeFileSync(docPath, replaceLatestSection(readFileSync(docPath, 'utf8'), body));
}

/** Says which parts were not measured in this run (BENCH_ONLY) and where they come from. */
function carriedSentence(carried: LatestResults['carried']): string {
  if (!carried || Object.keys(carried).length === 0) return 'Every figure below comes from this one run; ';
  const from = Object.entries(carried).map(([part, o]) => `${part} (${o.date.slice(0, 16).replace('T', ' ')} UTC, source ${o.source.commit})`);
  return `This run measured only part of the suite (BENCH_ONLY); these parts' figures are carried over from earlier runs: ${from.join(', ')}. `;
}

runIfMain(import.meta.url, async () => {
  await writeReport();
  return { wrote: ['docs/bench/*.svg', 'docs/BENCHMARKS.md (latest run)'] };
});
