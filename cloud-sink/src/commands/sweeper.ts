// Expires commands nobody took: one still queued `graceMs` past its expiry (its gateway offline,
// or not reading commands) becomes `expired`, with the reason, and its event is owed to the status
// topic. The grace lets a gateway's `delivered`, sent just before the expiry, arrive first.
import type { Logger } from 'pino';
import type { CommandRelay } from './relay.js';
import type { CommandStore } from './store.js';

export interface ExpirySweeperOptions {
  store: CommandStore;
  relay: CommandRelay;
  intervalMs: number;
  graceMs: number;
  log: Logger;
  /** Epoch ms; tests move it. */
  now?: () => number;
}

export class ExpirySweeper {
  expired = 0;
  errors = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private running: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: ExpirySweeperOptions) {
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    const tick = (): void => {
      if (this.stopped) return;
      this.running = this.sweep().then(() => undefined, () => undefined);
      this.timer = setTimeout(() => void this.running.then(tick), this.opts.intervalMs);
      this.timer.unref();
    };
    this.timer = setTimeout(tick, 0);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One sweep; resolves with the ids this process expired. */
  async sweep(): Promise<string[]> {
    try {
      const ids = await this.opts.store.expireDue(this.now(), this.opts.graceMs);
      if (ids.length > 0) {
        this.expired += ids.length;
        this.opts.log.info({ commands: ids.length, ids: ids.slice(0, 20) }, 'queued commands expired');
        await this.opts.relay.publishSoon();
      }
      return ids;
    } catch (err) {
      this.errors++;
      this.opts.log.warn({ err: (err as Error).message }, 'the command expiry sweep failed; it runs again');
      throw err;
    }
  }
}
