// Where a process spent its time, from the .cpuprofile `node --cpu-prof` writes: self time per
// function and rolled up by area (our folders, each npm package, Node's internals, GC, idle), in a
// form docs/BENCHMARKS.md can show before and after a change.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join, relative, sep } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/** The parts of V8's CPU profile format (Profiler.Profile in the DevTools protocol) read here. */
interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample (the first: since startTime). */
  timeDeltas: number[];
}

export interface AreaTime {
  /** e.g. "gateway/src/ingest", "aedes", "node internals", "(garbage collector)". */
  area: string;
  selfMs: number;
  /** Share of the whole profile, idle included, in percent (one decimal). */
  pct: number;
  /** Share of the time the thread was not idle, in percent: what matters under load. */
  busyPct: number;
}

export interface FunctionTime {
  fn: string;
  /** "gateway/src/pipeline/steps.js:73", "node_modules/aedes/lib/handlers/publish.js:12", "node:internal/…:5". */
  where: string;
  area: string;
  selfMs: number;
  pct: number;
  busyPct: number;
}

export interface CpuProfileSummary {
  /** Time covered by samples, from the first sample to the profile's end. */
  totalMs: number;
  /** totalMs less (idle). */
  busyMs: number;
  samples: number;
  idlePct: number;
  gcPct: number;
  /** V8's own work not attributed to JavaScript (compiling, native callbacks' overhead). */
  programPct: number;
  /** Every area, most self time first. */
  byArea: AreaTime[];
  /** The `top` functions by self time, same function at different call sites counted together. */
  topFunctions: FunctionTime[];
}

export interface SummaryOptions {
  /** How many functions topFunctions keeps; 15 by default. */
  top?: number;
  /** Paths under it are our code, named relative to it; the checkout this module was built from by default. */
  repoRoot?: string;
}

const DEFAULT_ROOT = join(import.meta.dirname, '..', '..');
/** Our top-level folders, recognised in a path outside repoRoot (a profile taken in another checkout). */
const OUR_FOLDERS = /(?:^|\/)(?:dist\/)?((?:gateway|cloud-sink|firmware-sim|proto|common|bench|devstack|scripts|test)\/.*)$/;

export function summarizeCpuProfile(path: string, opts: SummaryOptions = {}): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const root = opts.repoRoot ?? DEFAULT_ROOT;
  const top = opts.top ?? 15;

  const selfUs = new Map<number, number>();
  // As DevTools reads it: sample i lasts until sample i + 1 (the last one until endTime); the gap
  // before the first sample is the profiler starting up and belongs to no one.
  let t = profile.startTime;
  const times = profile.timeDeltas.map((d) => (t += d));
  for (let i = 0; i < profile.samples.length; i++) {
    const duration = (times[i + 1] ?? profile.endTime) - (times[i] ?? profile.endTime);
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, duration));
  }

  const areaUs = new Map<string, number>();
  const fnUs = new Map<string, { fn: string; where: string; area: string; us: number }>();
  let totalUs = 0;
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (us === 0) continue;
    totalUs += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const place = locate(url, functionName, root);
    areaUs.set(place.area, (areaUs.get(place.area) ?? 0) + us);
    const fn = functionName || '(anonymous)';
    const where = place.file ? `${place.file}:${lineNumber + 1}` : '';
    const key = `${fn}\u0000${where}`;
    const entry = fnUs.get(key) ?? { fn, where, area: place.area, us: 0 };
    entry.us += us;
    fnUs.set(key, entry);
  }

  const idleUs = areaUs.get('(idle)') ?? 0;
  const busyUs = totalUs - idleUs;
  const pct = (us: number, of: number): number => (of > 0 ? Math.round((us / of) * 1000) / 10 : 0);
  const ms = (us: number): number => Math.round(us / 100) / 10;
  return {
    totalMs: ms(totalUs),
    busyMs: ms(busyUs),
    samples: profile.samples.length,
    idlePct: pct(idleUs, totalUs),
    gcPct: pct(areaUs.get('(garbage collector)') ?? 0, totalUs),
    programPct: pct(areaUs.get('(program)') ?? 0, totalUs),
    byArea: [...areaUs]
      .sort((a, b) => b[1] - a[1])
      .map(([area, us]) => ({ area, selfMs: ms(us), pct: pct(us, totalUs), busyPct: area === '(idle)' ? 0 : pct(us, busyUs) })),
    topFunctions: [...fnUs.values()]
      .filter((f) => f.area !== '(idle)')
      .sort((a, b) => b.us - a.us)
      .slice(0, top)
      .map((f) => ({ fn: f.fn, where: f.where, area: f.area, selfMs: ms(f.us), pct: pct(f.us, totalUs), busyPct: pct(f.us, busyUs) })),
  };
}

/** The area a frame belongs to, and its file named short enough for a table. */
function locate(url: string, functionName: string, root: string): { area: string; file: string } {
  // V8's pseudo-frames: (program), (idle), (garbage collector), (root).
  if (!url && /^\(.*\)$/.test(functionName)) return { area: functionName, file: '' };
  // Builtins and native functions (JSON.parse, Array.prototype.sort…) carry no script.
  if (!url) return { area: '(native)', file: '' };
  if (url.startsWith('node:')) return { area: 'node internals', file: url };
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      return { area: 'other', file: url };
    }
  }
  if (!path.startsWith('/')) return { area: 'other', file: url };
  const parts = path.split(sep);
  // The innermost node_modules is the package the code is in (a nested copy belongs to its own package).
  const nm = parts.lastIndexOf('node_modules');
  if (nm >= 0 && nm + 1 < parts.length) {
    const scoped = parts[nm + 1]!.startsWith('@');
    const pkg = parts.slice(nm + 1, nm + (scoped ? 3 : 2)).join('/');
    return { area: pkg, file: ['node_modules', ...parts.slice(nm + 1)].join('/') };
  }
  const rel = relative(root, path);
  const ours = !rel.startsWith('..') ? rel.replace(/^dist\//, '') : (OUR_FOLDERS.exec(path)?.[1] ?? null);
  if (ours === null) return { area: 'other', file: path };
  return { area: ourArea(ours), file: ours };
}

/** gateway/src/ingest/mqtt/adapter.js → gateway/src/ingest; proto/src/wire.js → proto/src; proto/gen/x.js → proto/gen; bench/x.js → bench. */
function ourArea(rel: string): string {
  const parts = rel.split('/');
  if (parts[1] === 'src' && parts.length > 3) return parts.slice(0, 3).join('/');
  return parts.length > 2 ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Every .cpuprofile in `dir`, newest first (by modification time); none when the directory is missing. */
export function findCpuProfiles(dir: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.cpuprofile'))
    .map((n) => ({ path: join(dir, n), mtime: statSync(join(dir, n)).mtimeMs }))
    .sort((a, b) => b.mtime - a.mtime || b.path.localeCompare(a.path))
    .map((p) => p.path);
}

/** The newest .cpuprofile in `dir`, or null. */
export function newestCpuProfile(dir: string): string | null {
  return findCpuProfiles(dir)[0] ?? null;
}

/** Two markdown tables under a heading: self time by area, then the top functions. */
export function profileMarkdown(s: CpuProfileSummary, title: string): string {
  const cell = (x: string): string => x.replace(/\|/g, '\\|');
  const lines = [
    `#### ${title}`,
    '',
    `${(s.totalMs / 1000).toFixed(1)} s profiled (${s.samples} samples): idle ${s.idlePct} %, garbage collector ${s.gcPct} %, V8 (program) ${s.programPct} %. Shares of busy time are of the ${(s.busyMs / 1000).toFixed(1)} s not idle.`,
    '',
    '| area | self ms | % of busy |',
    '|---|---:|---:|',
    ...s.byArea.filter((a) => a.area !== '(idle)').map((a) => `| ${cell(a.area)} | ${a.selfMs} | ${a.busyPct} |`),
    '',
    '| function | where | self ms | % of busy |',
    '|---|---|---:|---:|',
    ...s.topFunctions.map((f) => `| ${cell(f.fn)} | ${cell(f.where || f.area)} | ${f.selfMs} | ${f.busyPct} |`),
  ];
  return lines.join('\n') + '\n';
}

// `node dist/bench/profile-summary.js <file.cpuprofile> [top]` prints the two tables.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.argv[2]) {
  console.log(profileMarkdown(summarizeCpuProfile(process.argv[2], { top: Number(process.argv[3] ?? 15) }), basename(process.argv[2])));
}
