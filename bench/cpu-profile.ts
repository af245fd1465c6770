// Where a `node --cpu-prof` profile's self time went, by package or folder: the summaries in
// docs/profiles/*.md come from here, so a before/after pair is grouped the same way.
// `node dist/bench/cpu-profile.js <file.cpuprofile> [top]` prints the groups and the top functions.
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileShare {
  name: string;
  ms: number;
  percent: number;
}

export interface ProfileSummary {
  /** Wall time the profile covers, ms. */
  totalMs: number;
  /** Self time by group (a node_modules package, a folder of ours, or V8's own entries), largest first. */
  groups: ProfileShare[];
  /** The functions with the most self time, `name (file:line)`. */
  functions: ProfileShare[];
}

/** The group a frame's self time is charged to. */
export function groupOf(url: string, functionName: string): string {
  if (!url) {
    // V8's synthetic frames: (garbage collector), (idle), (program), and native builtins.
    if (functionName.startsWith('(')) return functionName;
    return '(native)';
  }
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  const dist = url.indexOf('/dist/');
  if (dist >= 0) {
    const parts = url.slice(dist + 6).split('/');
    // dist/cloud-sink/src/store/x.js → cloud-sink/store
    return parts[1] === 'src' && parts.length > 3 ? `${parts[0]}/${parts[2]}` : parts.slice(0, -1).join('/') || parts[0]!;
  }
  return url;
}

export function summariseCpuProfile(file: string, top = 15): ProfileSummary {
  const p = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) {
    const id = p.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const groups = new Map<string, number>();
  const functions = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (us === 0) continue;
    total += us;
    const { functionName, url, lineNumber } = n.callFrame;
    const g = groupOf(url, functionName);
    groups.set(g, (groups.get(g) ?? 0) + us);
    const file = url ? url.slice(url.lastIndexOf('/') + 1) : '';
    const fn = `${functionName || '(anonymous)'}${file ? ` (${file}:${lineNumber + 1})` : ''}`;
    functions.set(fn, (functions.get(fn) ?? 0) + us);
  }
  const rank = (m: Map<string, number>, n: number): ProfileShare[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({ name, ms: Math.round(us / 1000), percent: Number(((100 * us) / (total || 1)).toFixed(1)) }));
  return { totalMs: Math.round(total / 1000), groups: rank(groups, 30), functions: rank(functions, top) };
}

if (process.argv[1]?.endsWith('cpu-profile.js') && process.argv[2]) {
  console.log(JSON.stringify(summariseCpuProfile(process.argv[2], Number(process.argv[3] ?? 25)), null, 2));
}
