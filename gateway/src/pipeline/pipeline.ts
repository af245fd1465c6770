// normalize → validate → (rate-limit) → commit, as a list of named steps (CONVENTIONS.md point 2).
// Adding a check is adding a Step and one line in defaultSteps.
import { catalogue } from '../errors.js';
import type { Metrics } from '../metrics.js';
import type { Outbox } from '../outbox/outbox.js';
import type { GatewayConfig } from '../config/schema.js';
import { RateLimiter, rateLimitStep } from './rate-limit.js';
import { registryStep, type DeviceRegistry } from './registry.js';
import { admitStep, clockStep, decodeStep, normalizeStep, validateStep } from './steps.js';
import type { GatewayClock } from '../clock/clock.js';
import type { Envelope, Outcome, Step } from './types.js';
import { countValues } from '../../../proto/src/wire.js';

/** The gateway's steps in order. Without a registry (unit tests) every device is admitted. */
export function defaultSteps(cfg: GatewayConfig, registry?: DeviceRegistry, clock?: GatewayClock): Step[] {
  return [
    admitStep(),
    // Throttling comes before the registry and decoding so a flood costs as little as possible:
    // no registration, no parsing, no quarantine write per message.
    ...(cfg.rateLimit.enabled ? [rateLimitStep(new RateLimiter(cfg.rateLimit, cfg.devices.known))] : []),
    ...(registry ? [registryStep(registry)] : []),
    decodeStep(),
    ...(clock ? [clockStep(clock)] : []),
    normalizeStep(),
    validateStep(cfg.pipeline),
  ];
}

export class Pipeline {
  constructor(
    private readonly gatewayId: string,
    private readonly steps: Step[],
    private readonly outbox: Outbox,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Resolves once the message is durably in the outbox (ok) or in quarantine (refused): either way
   * the caller may then acknowledge. Rejects only when the outbox could not commit, in which case
   * the caller must not acknowledge.
   */
  async process(env: Envelope): Promise<Outcome> {
    this.metrics.count('ingest', 'received');
    for (const step of this.steps) {
      const rejection = step.run(env);
      if (rejection && step.loss === 'rateLimited') {
        this.metrics.count(step.name, 'dropped');
        this.metrics.lose(env.deviceId, 'rateLimited', 1, rejection.code);
        return { ok: false, stage: step.name, rejection };
      }
      if (rejection) {
        await this.outbox.quarantine({
          gatewayId: this.gatewayId,
          deviceId: env.deviceId,
          tsMs: env.receivedMs,
          raw: env.raw,
          source: env.source,
          reasonCode: rejection.code,
          reason: `${catalogue[rejection.code].message}: ${rejection.detail}`,
          topic: env.topic,
        });
        this.metrics.count(step.name, 'dropped');
        this.metrics.lose(env.deviceId, 'quarantined', 1, rejection.code);
        return { ok: false, stage: step.name, rejection };
      }
    }
    const reading = env.reading!;
    const values = countValues([reading]);
    // A recognised resend is acknowledged again, but it adds nothing to the outbox.
    if (await this.outbox.append([reading], env.redelivery, env.untrusted)) this.metrics.count('commit', 'sent', values);
    return { ok: true, values };
  }
}
