// Resident memory and CPU of a process the bench started (the gateway, the sink), sampled from
// /proc while a load runs: RSS (VmRSS) and its high-water mark (VmHWM, which catches a peak between
// two samples), CPU from utime + stime, and disk writes from /proc/<pid>/io. Samples are one per
// interval; the steady figure is the median RSS over the last half of the run, after warm-up growth.
import { readFileSync } from 'node:fs';
import { pidIo } from './disk-io.js';
import { processCpuSeconds } from './proc-cpu.js';

export interface ProcSample {
  /** Seconds since sampling began. */
  t: number;
  rssMb: number;
  /** CPU since the previous sample, in % of one core (200 = both cores busy). */
  cpuPct: number;
}

export interface ProcSeries {
  samples: ProcSample[];
  /** VmHWM at the end: the most the process ever held resident, start-up included. */
  peakRssMb: number;
  /** The largest sampled RSS inside the window. */
  peakSampledRssMb: number;
  /** Median RSS over the second half of the samples. */
  steadyRssMb: number;
  /** Average over the sampled window, % of one core. */
  cpuPct: number;
  cpuSeconds: number;
  seconds: number;
  /** Bytes the process sent toward the disk over the window (/proc/<pid>/io write_bytes minus cancelled). */
  diskWriteBytes: number;
}

export interface RawSample {
  at: number;
  rssKb: number;
  hwmKb: number;
  cpuSeconds: number;
}

function read(pid: number): RawSample {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(status)?.[1] ?? NaN);
  return { at: performance.now(), rssKb: kb('VmRSS'), hwmKb: kb('VmHWM'), cpuSeconds: processCpuSeconds(pid) };
}

const mb = (kb: number): number => Math.round(kb / 102.4) / 10;

export interface ProcSampler {
  /** Stops sampling and returns the series (one last sample is taken first). */
  stop(): ProcSeries;
}

/** Samples `pid` every intervalMs until stop(). */
export function sampleProcess(pid: number, intervalMs = 1_000): ProcSampler {
  const first = read(pid);
  const io0 = pidIo(pid);
  const raws: RawSample[] = [first];
  const timer = setInterval(() => {
    try {
      raws.push(read(pid));
    } catch {
      // The process exited; stop() reports what was sampled.
    }
  }, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      let io = io0;
      try {
        raws.push(read(pid));
        io = pidIo(pid);
      } catch {
        // gone already
      }
      return series(raws, io.writeBytes - io.cancelledWriteBytes - (io0.writeBytes - io0.cancelledWriteBytes));
    },
  };
}

/** The figures from raw samples (exported for the unit test). */
export function series(raws: readonly RawSample[], diskWriteBytes: number): ProcSeries {
  const first = raws[0]!;
  const last = raws.at(-1)!;
  const samples: ProcSample[] = raws.slice(1).map((r, i) => {
    const prev = raws[i]!;
    const secs = (r.at - prev.at) / 1000;
    return { t: Math.round(((r.at - first.at) / 1000) * 10) / 10, rssMb: mb(r.rssKb), cpuPct: secs > 0 ? Math.round(((r.cpuSeconds - prev.cpuSeconds) / secs) * 1000) / 10 : 0 };
  });
  const secondHalf = raws.slice(Math.floor(raws.length / 2)).map((r) => r.rssKb).sort((a, b) => a - b);
  const seconds = (last.at - first.at) / 1000;
  const cpuSeconds = last.cpuSeconds - first.cpuSeconds;
  return {
    samples,
    peakRssMb: mb(last.hwmKb),
    peakSampledRssMb: mb(Math.max(...raws.map((r) => r.rssKb))),
    steadyRssMb: mb(secondHalf[Math.floor((secondHalf.length - 1) / 2)]!),
    cpuPct: seconds > 0 ? Math.round((cpuSeconds / seconds) * 1000) / 10 : 0,
    cpuSeconds: Math.round(cpuSeconds * 100) / 100,
    seconds: Math.round(seconds * 10) / 10,
    diskWriteBytes,
  };
}
