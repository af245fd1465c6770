// Putting readings stamped on an untrusted clock at their true time, as the outbox leases them. The
// monotonic clock runs true from boot whatever happens to the wall clock, so once the wall clock is
// trusted, a reading stamped at monotonic m is at  now − (mono_now − m).  That holds only within one
// boot: after a reboot the monotonic clock starts again, and a reading from before it can no longer
// be placed; it is sent at the wall time it was stamped with, flagged, never silently.
import { v1 } from '../../../proto/src/wire.js';
import type { ErrorCode } from '../errors.js';
import type { GatewayClock } from './clock.js';

/** What the outbox keeps with a reading the gateway stamped on an untrusted clock. */
export interface UntrustedStamp {
  monoMs: number;
  bootId: string;
}

export interface ClockNow {
  trusted: boolean;
  wallMs: number;
  monoMs: number;
  bootId: string;
}

export type TimeFlag = Extract<ErrorCode, 'FL_ERR_CLOCK_REBOOTED' | 'FL_ERR_CLOCK_UNSYNCED' | 'FL_ERR_CLOCK_UNCORRECTABLE'>;

export type Retime =
  | { action: 'hold' }
  | { action: 'correct'; tsMs: number }
  | { action: 'flag'; flag: TimeFlag };

/**
 * The fate of one stamped reading at `now`. A reading of this boot waits (hold) while the clock is
 * untrusted, up to holdMs of monotonic time, and is flagged FL_ERR_CLOCK_UNSYNCED after that.
 */
export function decide(stamp: UntrustedStamp, now: ClockNow, holdMs: number): Retime {
  if (stamp.bootId !== now.bootId) return { action: 'flag', flag: 'FL_ERR_CLOCK_REBOOTED' };
  const age = now.monoMs - stamp.monoMs;
  // Within one boot the monotonic clock never runs back; a stamp ahead of it is damaged.
  if (!(age >= 0)) return { action: 'flag', flag: 'FL_ERR_CLOCK_UNCORRECTABLE' };
  if (now.trusted) return { action: 'correct', tsMs: Math.round(now.wallMs - age) };
  return age < holdMs ? { action: 'hold' } : { action: 'flag', flag: 'FL_ERR_CLOCK_UNSYNCED' };
}

/**
 * The outbox's lease hook: the encoded Reading with its ts corrected or its flag set, or 'hold'.
 * Only rows stamped on an untrusted clock come here, so the decode and encode cost nothing while
 * the clock is good.
 */
export function retimeHook(clock: GatewayClock, holdMs: number): (row: { payload: Uint8Array } & UntrustedStamp) => Uint8Array | 'hold' {
  return (row) => {
    const s = clock.stamp();
    const d = decide(row, s, holdMs);
    if (d.action === 'hold') return 'hold';
    const reading = v1.Reading.decode(row.payload);
    if (d.action === 'correct') {
      reading.tsMs = d.tsMs;
      reading.timeCorrected = true;
    } else {
      reading.timeFlag = d.flag;
    }
    return v1.Reading.encode(reading).finish();
  };
}
