// systemd's notify protocol (sd_notify(3)) for the gateway unit (Type=notify, WatchdogSec=):
// READY=1 once started, WATCHDOG=1 pings while healthy, STATUS= lines, STOPPING=1 on the way out.
//
// Node has no AF_UNIX datagram sockets, so each message is handed to `systemd-notify`, which
// ships with systemd itself (wherever NOTIFY_SOCKET means something, it is there). The unit sets
// NotifyAccess=all because the sender is a child, not the main PID. systemd-notify (systemd ≥ 246)
// ends every message with a BARRIER=1 and waits until the manager has read it, so the child is
// still alive, and attributable to the unit's cgroup, when systemd looks it up. A child that fails
// or hangs costs one ping; pings come at half the interval, so one loss does not trip the watchdog.
import { execFile } from 'node:child_process';
import { oldestAgeMs } from '../outbox/outbox.js';

export interface WatchdogOptions {
  /** Usually process.env: NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read from it. */
  env: NodeJS.ProcessEnv;
  /**
   * Whether the gateway is fit to be kept: checked before every ping. False (or a throw) skips the
   * ping, so systemd restarts a gateway that stays unfit for WatchdogSec.
   */
  healthy: () => boolean;
  /** A one-line summary for `systemctl status` (STATUS=), sent with each ping. */
  status?: () => string;
  /** The systemd-notify binary; tests may point elsewhere. */
  notifyBin?: string;
  /** Called when a message could not be delivered (logged by the caller). */
  onError?: (err: Error) => void;
}

export interface Notifier {
  /** True when NOTIFY_SOCKET is set, i.e. the process runs under a Type=notify unit. */
  readonly enabled: boolean;
  /** The ping interval in ms (half of WATCHDOG_USEC), or null when the unit has no watchdog. */
  readonly intervalMs: number | null;
  /** Pings sent, and ticks on which health was checked (a tick with an unhealthy gateway sends none). */
  readonly counts: { pings: number; ticks: number; skipped: number };
  /** READY=1 with a first STATUS= line, then the watchdog pings begin. */
  ready(status?: string): Promise<void>;
  /** STOPPING=1: systemd now expects the process to exit, and stops expecting pings. */
  stopping(status?: string): Promise<void>;
  /** Ends the pings without telling systemd (tests; after stopping()). */
  close(): void;
}

/**
 * The watchdog interval the unit asked for, per sd_watchdog_enabled(3): WATCHDOG_USEC, meant for
 * this process only if WATCHDOG_PID is unset or names it.
 */
export function watchdogIntervalMs(env: NodeJS.ProcessEnv, pid = process.pid): number | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.WATCHDOG_USEC || !Number.isFinite(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return Math.max(1, Math.floor(usec / 1000 / 2));
}

/** A notifier for this process; every method is a no-op when NOTIFY_SOCKET is unset. */
export function systemdNotifier(opts: WatchdogOptions): Notifier {
  const socket = opts.env.NOTIFY_SOCKET;
  const intervalMs = socket ? watchdogIntervalMs(opts.env) : null;
  const counts = { pings: 0, ticks: 0, skipped: 0 };
  let timer: NodeJS.Timeout | undefined;
  // One child at a time: if systemd is slow to read, pings do not pile up as processes.
  let inFlight: Promise<void> | null = null;

  const send = (lines: string[]): Promise<void> => {
    if (!socket) return Promise.resolve();
    const run = new Promise<void>((done) => {
      execFile(
        opts.notifyBin ?? 'systemd-notify',
        [`--pid=${process.pid}`, ...lines.map((l) => l.replace(/\n/g, ' '))],
        { env: { ...process.env, NOTIFY_SOCKET: socket }, timeout: 5_000 },
        (err) => {
          if (err) opts.onError?.(err);
          done();
        },
      );
    });
    const tracked: Promise<void> = run.finally(() => {
      if (inFlight === tracked) inFlight = null;
    });
    inFlight = tracked;
    return run;
  };

  const isHealthy = (): boolean => {
    try {
      return opts.healthy();
    } catch {
      return false;
    }
  };

  const tick = (): void => {
    counts.ticks++;
    if (inFlight) return;
    if (!isHealthy()) {
      counts.skipped++;
      return;
    }
    counts.pings++;
    void send(['WATCHDOG=1', ...(opts.status ? [`STATUS=${opts.status()}`] : [])]);
  };

  return {
    enabled: socket !== undefined && socket !== '',
    intervalMs,
    counts,
    async ready(status) {
      await send(['READY=1', ...(status ? [`STATUS=${status}`] : [])]);
      if (intervalMs !== null && !timer) {
        timer = setInterval(tick, intervalMs);
        // The pings keep systemd content, not the process alive: a gateway that stopped is done.
        timer.unref();
      }
    },
    async stopping(status) {
      this.close();
      await inFlight;
      await send(['STOPPING=1', ...(status ? [`STATUS=${status}`] : [])]);
    },
    close() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

/** What the gateway's watchdog checks; the parts of Gateway it needs, so tests can pass a fake. */
export interface WatchedGateway {
  outbox: { stats(): { depthValues: number; oldestMs: number | null; full: { code: string } | null } };
}

/**
 * Healthy when the outbox answers: a closed, locked or broken SQLite file throws, and then a
 * restart (which reopens it, or moves a damaged file aside) is the cure. A full outbox or a full
 * disk is not unhealthy: the gateway recovers from those by itself (DESIGN.md guarantee 3), and a
 * restart would only lose what sits in memory. A blocked event loop needs no check: the timer that
 * would ping does not run.
 */
export function gatewayHealthy(gw: WatchedGateway): boolean {
  gw.outbox.stats();
  return true;
}

/** The STATUS= line `systemctl status fieldline-gateway` shows. */
export function gatewayStatusLine(gw: WatchedGateway): string {
  try {
    const o = gw.outbox.stats();
    const age = Math.round(oldestAgeMs(o) / 1000);
    return `outbox ${o.depthValues} readings, oldest ${age}s${o.full ? `, refusing: ${o.full.code}` : ''}`;
  } catch (err) {
    return `outbox unreadable: ${(err as Error).message}`;
  }
}
