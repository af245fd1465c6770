// The gateway's wall clock and how far to trust it. A reading the gateway stamps while the clock is
// untrusted also gets the monotonic time and the boot id (ClockStamp), so that once the clock is
// trusted again the outbox can put it at its true time (retime.ts). The monotonic clock is
// CLOCK_MONOTONIC (process.hrtime), which counts from boot and so means the same in every process
// of one boot; performance.now() would start again with each process.
import { readFileSync } from 'node:fs';
import type { ClockConfig } from './config.js';
import { fileSource, systemSource, trustedSource, type ClockSource, type SourceReading } from './sources.js';

/** What the pipeline records with a reading it stamps itself. */
export interface ClockStamp {
  wallMs: number;
  monoMs: number;
  bootId: string;
  trusted: boolean;
}

/** For /status and the heartbeat. */
export interface ClockState {
  source: string;
  synced: boolean;
  detail: string;
  /** The last jump of the wall clock against the monotonic clock, ms (positive: forward); 0: none seen. */
  lastJumpMs: number;
  /** When it was seen (gateway wall time after the jump), or null. */
  lastJumpAtMs: number | null;
  jumps: number;
  /** The source could not be read at the last poll: why (the state before it is kept). */
  error: string | null;
  bootId: string;
  nowMs: number;
}

export interface ClockDeps {
  /** System wall clock, ms. Default Date.now. */
  wall?: () => number;
  /** Monotonic ms since boot. Default process.hrtime. */
  mono?: () => number;
  /** Default /proc/sys/kernel/random/boot_id. */
  bootId?: string;
  log?: Record<'info' | 'warn' | 'error', (obj: object, msg: string) => void>;
}

export const monotonicMs = (): number => Number(process.hrtime.bigint()) / 1e6;

export function kernelBootId(): string {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    // No /proc (not Linux): one id per process is the safe answer, since no monotonic stamp of an
    // earlier process can then be taken for this one's.
    return `process-${process.pid}-${Date.now()}`;
  }
}

export function clockSource(cfg: ClockConfig): ClockSource {
  if (cfg.source === 'file') return fileSource(cfg.file!);
  if (cfg.source === 'system') return systemSource();
  return trustedSource;
}

export class GatewayClock {
  private readonly wall: () => number;
  private readonly mono: () => number;
  private readonly kernelBoot: string;
  private sample: SourceReading;
  private error: string | null = null;
  /** wall + offset − mono at the last poll: constant while neither clock is stepped. */
  private base: number | null = null;
  private lastJumpMs = 0;
  private lastJumpAtMs: number | null = null;
  private jumps = 0;
  private timer?: NodeJS.Timeout;
  private polling: Promise<void> = Promise.resolve();

  constructor(
    readonly source: ClockSource,
    private readonly opts: Pick<ClockConfig, 'pollMs' | 'jumpThresholdMs'>,
    private readonly deps: ClockDeps = {},
  ) {
    this.wall = deps.wall ?? Date.now;
    this.mono = deps.mono ?? monotonicMs;
    this.kernelBoot = deps.bootId ?? kernelBootId();
    // Until the source has answered nothing is known, and an unknown clock is not trusted; the
    // trusted source answers at once (start() awaits the first poll).
    this.sample = { synced: source.name === 'trusted', offsetMs: 0, detail: 'not read yet' };
  }

  /** Reads the source once, then every pollMs. */
  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.opts.pollMs);
    this.timer.unref();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** One poll: the source's verdict, and a jump check against the monotonic clock. Serialised. */
  refresh(): Promise<void> {
    this.polling = this.polling.then(async () => {
      const before = this.sample;
      try {
        this.sample = await this.source.read();
        this.error = null;
      } catch (err) {
        const message = (err as Error).message;
        if (message !== this.error) this.deps.log?.error({ err: message }, 'clock source unreadable; keeping its last state');
        this.error = message;
      }
      this.checkJump();
      if (before.synced !== this.sample.synced) {
        this.deps.log?.[this.sample.synced ? 'info' : 'warn']({ source: this.source.name, detail: this.sample.detail }, this.sample.synced ? 'wall clock trusted' : 'wall clock not trusted: readings the gateway stamps are kept with monotonic time until it is');
      }
    });
    return this.polling;
  }

  private checkJump(): void {
    const base = this.now() - this.mono();
    if (this.base !== null) {
      const step = base - this.base;
      if (Math.abs(step) > this.opts.jumpThresholdMs) {
        this.jumps++;
        this.lastJumpMs = Math.round(step);
        this.lastJumpAtMs = this.now();
        this.deps.log?.warn({ stepMs: this.lastJumpMs, synced: this.sample.synced }, 'wall clock jumped against the monotonic clock');
      }
    }
    this.base = base;
  }

  /** The gateway's wall clock, ms since the epoch (right only while trusted()). */
  now(): number {
    return this.wall() + this.sample.offsetMs;
  }

  monoMs(): number {
    return this.mono();
  }

  get bootId(): string {
    return this.sample.bootId ?? this.kernelBoot;
  }

  trusted(): boolean {
    return this.sample.synced;
  }

  stamp(): ClockStamp {
    return { wallMs: this.now(), monoMs: this.mono(), bootId: this.bootId, trusted: this.sample.synced };
  }

  /**
   * The stamp of an instant an adapter took from the system clock (Date.now) a moment ago: on the
   * gateway's clock, and with the monotonic time it had then.
   */
  stampAt(systemMs: number): ClockStamp {
    const wall = this.wall();
    return { wallMs: systemMs + this.sample.offsetMs, monoMs: this.mono() - (wall - systemMs), bootId: this.bootId, trusted: this.sample.synced };
  }

  state(): ClockState {
    return {
      source: this.source.name,
      synced: this.sample.synced,
      detail: this.sample.detail,
      lastJumpMs: this.lastJumpMs,
      lastJumpAtMs: this.lastJumpAtMs,
      jumps: this.jumps,
      error: this.error,
      bootId: this.bootId,
      nowMs: this.now(),
    };
  }
}
