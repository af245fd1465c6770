// Scans that run in the background while a page polls them (POST/GET/DELETE /modbus/scans). A job
// runs one or more passes over the same unit ids (one per baud rate on an ad-hoc serial line), keeps
// what it found as it goes, and can be cancelled between two units. At most one job runs per line:
// two scans on one line would only slow each other down, and on a serial port the second could not
// open it anyway. Finished jobs are kept for a while so a page that polls late still sees the result.
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '../errors.js';
import { FieldlineError, GatewayError, catalogue } from '../errors.js';
import type { OpenLine } from '../ingest/modbus/lines.js';
import { scanUnits, type ScanOptions } from '../ingest/modbus/tools.js';
import { ModbusFailure } from '../ingest/modbus/transport.js';

export type ScanState = 'running' | 'done' | 'failed' | 'cancelled';

/** One pass of a job: one line at one baud rate (null: a bus or a TCP line). */
export interface ScanPass {
  /** The bus name, "tcp:host:port" or the serial path. */
  port: string;
  baudRate: number | null;
  open(): Promise<OpenLine>;
}

export interface ScanFound {
  port: string;
  baudRate: number | null;
  unitId: number;
  answer: 'data' | 'exception';
  exception?: string;
  exceptionCode?: number;
  ms: number;
}

export interface ScanGarbled {
  port: string;
  baudRate: number | null;
  unitId: number;
  kind: string;
  message: string;
}

export interface ScanProgress {
  probed: number;
  total: number;
  percent: number;
  etaMs: number | null;
  current: { baudRate?: number; unitId: number } | null;
}

export interface ScanJobView {
  id: string;
  state: ScanState;
  line: unknown;
  progress: ScanProgress;
  found: ScanFound[];
  garbled: ScanGarbled[];
  error?: { code: string; message: string };
  startedAt: string;
  finishedAt: string | null;
}

/** The probe every pass sends: scanUnits' options less the callbacks. */
export type ScanProbe = Required<Pick<ScanOptions, 'units' | 'fn' | 'address' | 'count' | 'timeoutMs'>>;

export interface ScanJobsOptions {
  /** Epoch ms; tests pass a fake to check the ETA. */
  now?: () => number;
  /** Finished jobs kept for GET. */
  keep?: number;
}

export const DEFAULT_KEPT_JOBS = 20;

/**
 * Time left at the mean time per unit so far; null before the first unit is done, since nothing
 * is known yet.
 */
export function estimateEtaMs(elapsedMs: number, probed: number, total: number): number | null {
  if (probed <= 0) return null;
  return Math.max(0, Math.round((elapsedMs / probed) * Math.max(0, total - probed)));
}

interface Job {
  view: ScanJobView;
  key: string;
  startedMs: number;
  abort: AbortController;
  finished: Promise<void>;
}

export class ScanJobs {
  private readonly jobs = new Map<string, Job>();
  private readonly now: () => number;
  private readonly keep: number;

  constructor(opts: ScanJobsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.keep = opts.keep ?? DEFAULT_KEPT_JOBS;
  }

  /**
   * Starts a job over `passes` and returns its first view. `key` names the line (one running job
   * per key): throws FL_ERR_MODBUS_SCAN_RUNNING naming the running job otherwise.
   */
  start(key: string, line: unknown, passes: readonly ScanPass[], probe: ScanProbe): ScanJobView {
    const running = [...this.jobs.values()].find((j) => j.key === key && j.view.state === 'running');
    if (running) throw new GatewayError('FL_ERR_MODBUS_SCAN_RUNNING', `scan ${running.view.id} on ${key}`);
    const startedMs = this.now();
    const view: ScanJobView = {
      id: randomUUID(),
      state: 'running',
      line,
      progress: { probed: 0, total: passes.length * probe.units.length, percent: 0, etaMs: null, current: null },
      found: [],
      garbled: [],
      startedAt: new Date(startedMs).toISOString(),
      finishedAt: null,
    };
    const job: Job = { view, key, startedMs, abort: new AbortController(), finished: Promise.resolve() };
    this.jobs.set(view.id, job);
    job.finished = this.run(job, passes, probe);
    return this.get(view.id) as ScanJobView;
  }

  /** The job as it is now, with a fresh ETA; undefined for an unknown or forgotten id. */
  get(id: string): ScanJobView | undefined {
    const job = this.jobs.get(id);
    if (!job) return undefined;
    const v = job.view;
    const etaMs = v.state === 'running' ? estimateEtaMs(this.now() - job.startedMs, v.progress.probed, v.progress.total) : v.state === 'done' ? 0 : null;
    return structuredClone({ ...v, progress: { ...v.progress, etaMs } });
  }

  /** Newest first. */
  list(): ScanJobView[] {
    return [...this.jobs.keys()].reverse().map((id) => this.get(id) as ScanJobView);
  }

  /** Asks a running job to stop after the unit it is probing; the view as it is now. */
  cancel(id: string): ScanJobView | undefined {
    const job = this.jobs.get(id);
    if (job?.view.state === 'running') job.abort.abort();
    return this.get(id);
  }

  /** Resolves when the job has finished (however it ended). */
  async settled(id: string): Promise<void> {
    await this.jobs.get(id)?.finished;
  }

  /** Cancels every running job and waits for them: the gateway's shutdown. */
  async stop(): Promise<void> {
    const jobs = [...this.jobs.values()];
    for (const j of jobs) j.abort.abort();
    await Promise.all(jobs.map((j) => j.finished));
  }

  private async run(job: Job, passes: readonly ScanPass[], probe: ScanProbe): Promise<void> {
    const v = job.view;
    const signal = job.abort.signal;
    try {
      for (const pass of passes) {
        if (signal.aborted) break;
        const line = await pass.open();
        try {
          await scanUnits(line.read, {
            ...probe,
            signal,
            beforeUnit: (unitId) => {
              v.progress.current = pass.baudRate === null ? { unitId } : { baudRate: pass.baudRate, unitId };
            },
            onUnit: (_unitId, _index, _total, outcome) => {
              v.progress.probed++;
              v.progress.percent = Math.floor((v.progress.probed / v.progress.total) * 100);
              if (outcome.hit) {
                const { unitId, answer, ms, exception, exceptionCode } = outcome.hit;
                v.found.push({ port: pass.port, baudRate: pass.baudRate, unitId, answer, ...(exception === undefined ? {} : { exception, exceptionCode }), ms });
              }
              if (outcome.garbled) v.garbled.push({ port: pass.port, baudRate: pass.baudRate, ...outcome.garbled });
            },
          });
        } finally {
          await line.close();
        }
      }
      v.state = signal.aborted ? 'cancelled' : 'done';
    } catch (err) {
      v.state = 'failed';
      v.error = describe(err);
    }
    v.progress.current = null;
    v.finishedAt = new Date(this.now()).toISOString();
    this.forgetOld();
  }

  private forgetOld(): void {
    const finished = [...this.jobs.values()].filter((j) => j.view.state !== 'running');
    for (const j of finished.slice(0, Math.max(0, finished.length - this.keep))) this.jobs.delete(j.view.id);
  }
}

function describe(err: unknown): { code: string; message: string } {
  if (err instanceof ModbusFailure) return { code: err.code, message: `${catalogue[err.code].message}: ${err.message}` };
  if (err instanceof FieldlineError) return { code: err.code, message: err.message };
  const code: ErrorCode = 'FL_ERR_API_INTERNAL';
  return { code, message: err instanceof Error ? err.message : String(err) };
}
