// The gateway's side of config from the cloud: the consumer hands each newer version here, the
// rules in state.ts say whether it applies, and apply-version.ts applies it. Runs under the same
// lock as PATCH /config, so a change made on site and one from the cloud never interleave their
// read-modify-write of the file.
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import type { GatewayConfig } from '../config/schema.js';
import { GatewayError } from '../errors.js';
import { applyVersion, type ApplyVersionDeps } from './apply-version.js';
import { ConfigConsumer, type ConfigConsumerStatus } from './consumer.js';
import type { CloudConfigMessage } from './message.js';
import {
  CloudConfigStore, beginApply, decide, describeState, markApplied, markConflict, markFailed, markLocalChange, recoverInterrupted,
  type ConfigSource,
} from './state.js';

export type Serialize = <T>(work: () => Promise<T>) => Promise<T>;

/** One queue for every edit of the config file. */
export function serialQueue(): Serialize {
  let queue: Promise<unknown> = Promise.resolve();
  return <T>(work: () => Promise<T>): Promise<T> => {
    const run = queue.then(work);
    queue = run.catch(() => undefined);
    return run;
  };
}

export interface CloudConfigStatus {
  enabled: boolean;
  source: ConfigSource;
  /** The cloud version running (0: none). */
  version: number;
  /** The newest cloud version received. */
  seenVersion: number;
  error: string;
  conflict: string;
  /** The change made on site that holds cloud versions back, if any. */
  localChange: { at: string; onVersion: number } | null;
  topic: ConfigConsumerStatus | null;
}

export interface FollowerOptions extends Omit<ApplyVersionDeps, 'verifyMs'> {
  cfg: GatewayConfig;
  serialize: Serialize;
  now?: () => number;
}

export class CloudConfigFollower {
  readonly store: CloudConfigStore;
  private readonly consumer: ConfigConsumer | null;
  private readonly now: () => number;

  constructor(private readonly opts: FollowerOptions) {
    this.now = opts.now ?? Date.now;
    this.store = new CloudConfigStore(join(resolve(opts.cfg.dataDir), 'cloud-config.json'));
    if (this.store.loadProblem) opts.log.error({ problem: this.store.loadProblem }, 'the cloud config state could not be read; starting from none');
    const recovered = recoverInterrupted(this.store.state);
    if (recovered !== this.store.state) {
      opts.log.error({ version: this.store.state.applying }, 'the gateway stopped while applying a cloud config version; it is marked failed');
      this.store.set(recovered);
    }
    const c = opts.cfg.cloudConfig;
    this.consumer = c.enabled
      ? new ConfigConsumer({ kafka: opts.cfg.kafka, topic: c.topic, gatewayId: opts.cfg.gatewayId, log: opts.log, deliver: (m) => this.receive(m) })
      : null;
  }

  start(): void {
    this.consumer?.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }

  /** PATCH /config changed the file: local settings now win over cloud versions issued before this moment. */
  noteLocalChange(): void {
    this.store.set(markLocalChange(this.store.state, this.now()));
  }

  /** One version from the topic: ignored, held back as a conflict, or applied (and rolled back if it fails). */
  receive(m: CloudConfigMessage): Promise<void> {
    return this.opts.serialize(async () => {
      const d = decide(this.store.state, m);
      const log = this.opts.log.child({ version: m.version, issuedBy: m.issued_by, section: m.section ?? '(several)' });
      if (d.action === 'ignore') {
        log.debug({ why: d.why }, 'cloud config version ignored');
        return;
      }
      if (d.action === 'conflict') {
        this.store.set(markConflict(this.store.state, m));
        log.warn({ conflict: describeState(this.store.state).conflict }, new GatewayError('FL_ERR_CONFIG_CLOUD_CONFLICT').message);
        return;
      }
      this.store.set(beginApply(this.store.state, m.version));
      const outcome = await applyVersion({ ...this.opts, verifyMs: this.opts.cfg.cloudConfig.verifyMs }, m);
      if (outcome.ok) {
        this.store.set(markApplied(this.store.state, m, this.now()));
        log.info({ applied: outcome.applied }, 'cloud config version applied');
      } else {
        this.store.set(markFailed(this.store.state, m.version, outcome.code, outcome.message));
        log.error({ code: outcome.code, reason: outcome.message }, 'cloud config version not applied');
      }
    });
  }

  status(): CloudConfigStatus {
    const s = this.store.state;
    const d = describeState(s);
    return {
      enabled: this.consumer !== null,
      source: d.source,
      version: d.version,
      seenVersion: d.seenVersion,
      error: d.error,
      conflict: d.conflict,
      localChange: s.local ? { at: new Date(s.local.changedMs).toISOString(), onVersion: s.local.baseVersion } : null,
      topic: this.consumer ? { ...this.consumer.stats } : null,
    };
  }

  /** The Heartbeat's config fields (telemetry.proto 26-30). */
  heartbeatFields(): { configVersion: number; configError: string; configConflict: string; configSource: string; configSeenVersion: number } {
    const d = describeState(this.store.state);
    return { configVersion: d.version, configError: d.error, configConflict: d.conflict, configSource: d.source, configSeenVersion: d.seenVersion };
  }
}
