// The progress bar of `fieldline-gateway modbus scan` in a terminal: percent, units probed of all,
// found so far, the time left and the unit being asked. It goes to stderr, and only when stderr is a
// terminal, so a redirected or --json run prints exactly what it printed before. The time left is the
// scan jobs' estimate (api/scan-jobs.ts), the mean time per unit so far, so the CLI and the page agree.
import cliProgress from 'cli-progress';
import { estimateEtaMs } from '../api/scan-jobs.js';
import type { ScanOptions } from '../ingest/modbus/tools.js';

export interface ScanProgressBar {
  /** Hooks for scanUnits; `baudRate` labels the pass (null on TCP or a bus). */
  hooks(baudRate: number | null): Pick<ScanOptions, 'beforeUnit' | 'onUnit'>;
  /** Draws a state reported by someone else (a gateway's scan job). */
  show(probed: number, found: number, etaMs: number | null, current: string): void;
  stop(): void;
}

/** "1 m 05 s", "12 s", "-" before the first unit. */
export function formatEta(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.round(ms / 1000);
  return s >= 60 ? `${Math.floor(s / 60)} m ${String(s % 60).padStart(2, '0')} s` : `${s} s`;
}

/** A bar over `total` unit probes, or undefined when `stream` is not a terminal. */
export function scanProgressBar(total: number, stream: NodeJS.WriteStream = process.stderr, now: () => number = Date.now): ScanProgressBar | undefined {
  if (!stream.isTTY) return undefined;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      format: 'scanning [{bar}] {percentage}% | {value}/{total} units | found {found} | ETA {etaText} | {current}',
      barsize: 24,
      hideCursor: true,
      clearOnComplete: false,
      // Redraws at most this often; a silent unit alone takes longer than a frame.
      fps: 10,
    },
    cliProgress.Presets.legacy,
  );
  const started = now();
  let probed = 0;
  let found = 0;
  bar.start(total, 0, { found, etaText: '-', current: '' });
  const payload = (current: string) => ({ found, etaText: formatEta(estimateEtaMs(now() - started, probed, total)), current });
  return {
    hooks: (baudRate) => ({
      beforeUnit: (unitId) => bar.update(probed, payload(`unit ${unitId}${baudRate === null ? '' : ` @ ${baudRate}`}`)),
      onUnit: (_unitId, _index, _total, outcome) => {
        probed++;
        if (outcome.hit) found++;
        bar.update(probed, payload(''));
      },
    }),
    show: (p, f, etaMs, current) => {
      probed = p;
      found = f;
      bar.update(p, { found, etaText: formatEta(etaMs), current });
    },
    stop: () => bar.stop(),
  };
}
