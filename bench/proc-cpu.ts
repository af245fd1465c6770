// CPU time of processes from /proc, for figures that must mean something on a machine other jobs
// share: wall-clock rates there fall with the load, CPU-seconds per unit of work much less.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc/<pid>/stat counts in these ticks; 100 on every Linux build Node ships for. */
const TICKS_PER_SECOND = 100;

interface StatTimes {
  ppid: number;
  /** utime + stime: the process's own CPU. */
  own: number;
  /** cutime + cstime: its reaped children's. */
  children: number;
}

function stat(pid: number): StatTimes | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null;
  }
  // The command name (field 2) may hold spaces and parentheses: count fields after its last ')'.
  const f = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const n = (i: number): number => Number(f[i - 3] ?? NaN);
  return { ppid: n(4), own: (n(14) + n(15)) / TICKS_PER_SECOND, children: (n(16) + n(17)) / TICKS_PER_SECOND };
}

/** CPU-seconds the process has used so far (itself only); NaN once it is gone. */
export function processCpuSeconds(pid: number): number {
  return stat(pid)?.own ?? NaN;
}

/**
 * CPU-seconds used so far by a server that forks a process per connection (PostgreSQL): the parent,
 * its children that have exited and been reaped, and its children still running.
 */
export function processTreeCpuSeconds(pid: number): number {
  const root = stat(pid);
  if (!root) return NaN;
  let total = root.own + root.children;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const s = stat(Number(name));
    if (s?.ppid === pid) total += s.own + s.children;
  }
  return total;
}
