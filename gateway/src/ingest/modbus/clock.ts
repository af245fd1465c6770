// Time as the Modbus bus sees it. Injected so tests can run the scheduler on virtual time and
// assert on the waits it asks for rather than on how long a loaded CI machine took.

export interface BusClock {
  /** Epoch milliseconds: the poll schedule, backoff deadlines and reading times. */
  now(): number;
  /** Monotonic milliseconds, for the RTU silent interval: a wall-clock step must not shorten it. */
  monotonic(): number;
  /** Resolves after `ms`, or as soon as `signal` aborts. Never rejects. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const realClock: BusClock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  sleep: (ms, signal) =>
    new Promise<void>((resolve) => {
      if (signal?.aborted) return resolve();
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      }
      signal?.addEventListener('abort', done, { once: true });
    }),
};
