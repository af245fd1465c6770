// Alerting as one worker of the sink: the rule table read from iot.rules, the evaluator joining
// readings, heartbeats and quarantine records against it, and the two outbox pumps that carry what
// it records to iot.alerts and to the rules' webhooks. Started by the sink, `all` and `alerts` roles.
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { degradedReasons as fleetDegradedReasons, type HealthThresholds } from '../fleet/health.js';
import type { HeartbeatRecord } from '../fleet/heartbeats.js';
import type { WorkerTallies } from '../metrics.js';
import type { Db } from '../store/db.js';
import { AlertEvaluator } from './evaluator.js';
import { EventRelay } from './relay.js';
import type { ParamsOf } from './rule.js';
import { RulesTable } from './rules-table.js';
import { WebhookDeliverer } from './webhook.js';

export class Alerting {
  readonly rules: RulesTable;
  readonly evaluator: AlertEvaluator;
  readonly relay: EventRelay;
  readonly webhooks: WebhookDeliverer;

  constructor(cfg: Pick<CloudConfig, 'kafka' | 'alerts' | 'fleet'>, db: Db, log: Logger, now?: () => number) {
    const { kafka, alerts } = cfg;
    this.rules = new RulesTable({ kafka, topic: alerts.rulesTopic, log: log.child({ part: 'rules-table' }) });
    this.relay = new EventRelay({ db, kafka, topic: alerts.alertsTopic, intervalMs: alerts.relayIntervalMs, retentionMs: alerts.eventRetentionMs, log: log.child({ part: 'alerts-relay' }) });
    this.webhooks = new WebhookDeliverer({ db, settings: alerts.webhooks, log: log.child({ part: 'webhooks' }) });
    const defaults = cfg.fleet.health;
    this.evaluator = new AlertEvaluator({
      cfg,
      db,
      rules: this.rules,
      log: log.child({ part: 'alerts' }),
      degradedReasons: (hb: HeartbeatRecord, prev: HeartbeatRecord | null, params: ParamsOf<'gateway_degraded'>) =>
        fleetDegradedReasons(hb, prev, degradedThresholds(params, defaults)),
      onEvents: () => {
        this.relay.poke();
        this.webhooks.poke();
      },
      ...(now ? { now } : {}),
    });
  }

  async start(): Promise<void> {
    this.relay.start();
    this.webhooks.start();
    this.rules.start();
    await this.evaluator.start();
  }

  async stop(): Promise<void> {
    await this.evaluator.stop();
    await this.rules.stop();
    await Promise.all([this.relay.stop(), this.webhooks.stop()]);
  }

  tallies(): WorkerTallies[] {
    return [this.evaluator.tallies(), this.rules.tallies(), this.relay.tallies(), this.webhooks.tallies()];
  }

  health(): Record<string, unknown> {
    return { evaluator: this.evaluator.health(), rules: this.rules.stats, relay: this.relay.health(), webhooks: this.webhooks.health() };
  }
}

/**
 * A gateway_degraded rule's limits as fleet/health.ts takes them. A rule that sets none judges by
 * the fleet.health defaults (the same verdict as GET /v1/gateways); one that sets some checks
 * only those, plus a full outbox, which is always a degradation.
 */
export function degradedThresholds(p: ParamsOf<'gateway_degraded'>, defaults: HealthThresholds): HealthThresholds {
  const set = Object.values(p).some((v) => v !== undefined);
  if (!set) return defaults;
  return {
    ...defaults,
    maxBacklogAgeMs: p.max_backlog_age_s !== undefined ? p.max_backlog_age_s * 1000 : Number.POSITIVE_INFINITY,
    minDiskFreeRatio: p.min_disk_free_pct !== undefined ? p.min_disk_free_pct / 100 : 0,
    maxCpuPercent: p.max_cpu_pct ?? null,
    maxTemperatureC: p.max_temperature_c ?? null,
    adaptersDown: p.adapters ?? false,
    lossIncrease: p.max_loss_increase ?? null,
  };
}
