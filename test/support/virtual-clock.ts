// A BusClock on virtual time for unit tests: nothing moves until the test advances it, so a test can
// assert on the exact waits code asks for and on the times it records, however loaded the machine.
// Every sleep is recorded. Timers fire one at a time in time order, and the promise chains each one
// wakes run to their next sleep before the next fires.
import { realClock, type BusClock } from '../../gateway/src/ingest/modbus/clock.js';

interface Timer {
  at: number;
  seq: number;
  resolve: () => void;
}

export class VirtualClock implements BusClock {
  private t: number;
  private readonly origin: number;
  private timers: Timer[] = [];
  private seq = 0;
  /** Every sleep asked for, in ms, in the order asked. */
  readonly sleeps: number[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.t = startMs;
    this.origin = startMs;
  }

  now(): number {
    return this.t;
  }

  monotonic(): number {
    return this.t - this.origin;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms);
    return new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer: Timer = { at: this.t + Math.max(0, ms), seq: this.seq++, resolve };
      this.timers.push(timer);
      signal?.addEventListener(
        'abort',
        () => {
          this.timers = this.timers.filter((x) => x !== timer);
          resolve();
        },
        { once: true },
      );
    });
  }

  /** Lets every runnable promise chain run until it waits on this clock again. */
  async settle(): Promise<void> {
    for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
  }

  /** Moves time forward by `ms`, firing each timer due on the way at its own time. */
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await this.settle();
    for (let next = this.earliest(); next && next.at <= end; next = this.earliest()) await this.fire(next);
    this.t = end;
    await this.settle();
  }

  /** Advances timer by timer until `check()` holds; throws if it does not within `limitMs` of virtual time. */
  async until(check: () => boolean, what: string, limitMs = 60_000): Promise<void> {
    const end = this.t + limitMs;
    await this.settle();
    while (!check()) {
      const next = this.earliest();
      if (!next) throw new Error(`waiting for ${what}: nothing left to run at virtual ${this.monotonic()} ms`);
      if (next.at > end) throw new Error(`waiting for ${what}: not within ${limitMs} virtual ms`);
      await this.fire(next);
    }
  }

  /** Advances until `p` settles, and returns (or throws) what it settled with. */
  async run<T>(p: Promise<T>, what = 'a promise', limitMs = 60_000): Promise<T> {
    let done = false;
    p.then(
      () => (done = true),
      () => (done = true),
    );
    await this.until(() => done, what, limitMs);
    return p;
  }

  private earliest(): Timer | undefined {
    let best: Timer | undefined;
    for (const x of this.timers) if (!best || x.at < best.at || (x.at === best.at && x.seq < best.seq)) best = x;
    return best;
  }

  private async fire(timer: Timer): Promise<void> {
    this.timers = this.timers.filter((x) => x !== timer);
    this.t = Math.max(this.t, timer.at);
    timer.resolve();
    await this.settle();
  }
}

/** The real clock, recording every sleep asked of it: for tests against real slaves and sockets. */
export function recordingClock(): BusClock & { sleeps: number[] } {
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => realClock.now(),
    monotonic: () => realClock.monotonic(),
    sleep: (ms, signal) => {
      sleeps.push(ms);
      return realClock.sleep(ms, signal);
    },
  };
}
