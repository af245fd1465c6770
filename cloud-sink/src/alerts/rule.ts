// An alert rule as the API takes it and the evaluator applies it (DESIGN.md "Cloud API", rule).
// The zod schema is the rule's documentation and its check: a POST or PUT body that does not fit is
// refused whole with the path and what was expected, and nothing reaches iot.rules.
import { z } from 'zod';

/** "above": fires when the value is over `value`, resolves once it is at or under `clear`; "below" mirrors it. */
const op = z.enum(['above', 'below']);

const finite = z.number().refine(Number.isFinite, 'expected a finite number');

/**
 * threshold: the value crosses `value`; `clear` (default: `value`) is the level at which it
 * resolves, so values between the two neither fire nor resolve (hysteresis); `for_s` is how long, in
 * the readings' own time, the condition must hold before it fires.
 */
const threshold = z
  .strictObject({ op, value: finite, clear: finite.optional(), for_s: z.number().min(0).max(86_400).default(0) })
  .refine((p) => p.clear === undefined || (p.op === 'above' ? p.clear <= p.value : p.clear >= p.value), {
    message: 'clear must be on the resolving side of value (at or under it for "above", at or over it for "below")',
    path: ['clear'],
  });

/**
 * rate: the change per second between the newest reading and the oldest one within `window_s`
 * (readings' own time) is above (or below) `value`; `clear` as for threshold.
 */
const rate = z
  .strictObject({ op, value: finite, clear: finite.optional(), window_s: z.number().positive().max(86_400) })
  .refine((p) => p.clear === undefined || (p.op === 'above' ? p.clear <= p.value : p.clear >= p.value), {
    message: 'clear must be on the resolving side of value',
    path: ['clear'],
  });

/** absence: no reading from the device (or of the target's metric) for `for_s` seconds. */
const absence = z.strictObject({ for_s: z.number().min(1).max(30 * 86_400) });

/** gateway_offline: no heartbeat for `intervals` of the gateway's heartbeat interval. */
const gatewayOffline = z.strictObject({ intervals: z.number().min(1).max(1_000).default(3) });

/**
 * gateway_degraded: any of the named conditions, judged on each heartbeat. An unset limit is not
 * checked; with none set, the fleet.health defaults apply.
 */
const gatewayDegraded = z.strictObject({
  max_backlog_age_s: z.number().positive().optional(),
  min_disk_free_pct: z.number().min(0).max(100).optional(),
  max_cpu_pct: z.number().min(0).max(100).optional(),
  max_temperature_c: finite.optional(),
  /** Loss (rate-limited, quarantined, evicted) growing by more than this between two heartbeats. */
  max_loss_increase: z.number().int().min(0).optional(),
  /** An adapter reported down or degraded. */
  adapters: z.boolean().optional(),
});

/**
 * quality: the share of a device's readings the gateway quarantined within `window_s` (readings'
 * own time) is over `max_quarantined_pct`, once the window holds `min_readings`. Counted in device
 * messages: each accepted Reading and each QuarantinedReading is one.
 */
const quality = z
  .strictObject({
    max_quarantined_pct: z.number().min(0).max(100),
    /** Where it resolves (default 80 % of the limit), so a share hovering at the limit does not flap. */
    clear_pct: z.number().min(0).max(100).optional(),
    window_s: z.number().positive().max(86_400).default(300),
    min_readings: z.number().int().min(1).default(20),
  })
  .refine((p) => p.clear_pct === undefined || p.clear_pct <= p.max_quarantined_pct, { message: 'clear_pct must be at most max_quarantined_pct', path: ['clear_pct'] });

/**
 * anomaly: an exponentially weighted mean and variance per device and metric (weight `alpha` per
 * reading); fires when a reading is more than `z` deviations away, once `warmup` readings built the
 * baseline, and resolves under `clear_z` (default 3/4 of `z`). Every reading moves the baseline, so a
 * lasting change of level becomes the new normal.
 */
const anomaly = z
  .strictObject({
    z: z.number().positive().default(4),
    clear_z: z.number().positive().optional(),
    alpha: z.number().gt(0).lt(1).default(0.05),
    warmup: z.number().int().min(2).default(30),
  })
  .refine((p) => p.clear_z === undefined || p.clear_z <= p.z, { message: 'clear_z must be at most z', path: ['clear_z'] });

export const PARAMS = {
  threshold,
  rate,
  absence,
  gateway_offline: gatewayOffline,
  gateway_degraded: gatewayDegraded,
  quality,
  anomaly,
} as const;

export type RuleKind = keyof typeof PARAMS;
export const RULE_KINDS = Object.keys(PARAMS) as RuleKind[];
export type ParamsOf<K extends RuleKind> = z.infer<(typeof PARAMS)[K]>;

/** The device-level kinds: each needs a metric except absence and quality, which may name one. */
const DEVICE_KINDS: readonly RuleKind[] = ['threshold', 'rate', 'absence', 'quality', 'anomaly'];
const NEEDS_METRIC: readonly RuleKind[] = ['threshold', 'rate', 'anomaly'];

const target = z.strictObject({
  device: z.string().min(1).max(128).optional(),
  /** A glob over device ids: `*` any run of characters, `?` one character. */
  device_pattern: z.string().min(1).max(256).optional(),
  metric: z.string().min(1).max(128).optional(),
  gateway: z.string().min(1).max(256).optional(),
});

const webhook = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http or https URL' }),
  /** Signs each delivery (HMAC-SHA256, header X-Fieldline-Signature); never returned by the API. */
  secret: z.string().min(16, 'expected at least 16 characters').max(512).optional(),
});

const ruleBody = z
  .strictObject({
    /** Set by the server on POST; a PUT takes it from the path. */
    id: z.string().optional(),
    name: z.string().min(1).max(200),
    kind: z.enum(RULE_KINDS as [RuleKind, ...RuleKind[]]),
    target: target.default({}),
    params: z.record(z.string(), z.unknown()).default({}),
    severity: z.enum(['info', 'warning', 'critical']).default('warning'),
    enabled: z.boolean().default(true),
    webhook: webhook.optional(),
  })
  .superRefine((r, ctx) => {
    if (r.target.device !== undefined && r.target.device_pattern !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: 'name a device or a device_pattern, not both' });
    }
    if (NEEDS_METRIC.includes(r.kind) && r.target.metric === undefined) {
      ctx.addIssue({ code: 'custom', path: ['target', 'metric'], message: `a ${r.kind} rule needs a metric` });
    }
    if (!DEVICE_KINDS.includes(r.kind) && (r.target.device ?? r.target.device_pattern ?? r.target.metric) !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['target'], message: `a ${r.kind} rule targets a gateway or all gateways, not devices or metrics` });
    }
    const parsed = PARAMS[r.kind].safeParse(r.params);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue({ ...issue, path: ['params', ...issue.path] } as z.core.$ZodRawIssue);
    }
  });

export type RuleTarget = z.infer<typeof target>;

export interface Rule<K extends RuleKind = RuleKind> {
  id: string;
  name: string;
  kind: K;
  target: RuleTarget;
  params: ParamsOf<K>;
  severity: 'info' | 'warning' | 'critical';
  enabled: boolean;
  webhook?: { url: string; secret?: string };
  /** Bumped by every change; the evaluator keeps the newest it has seen per id. */
  version: number;
}

export type RuleInput = z.input<typeof ruleBody>;

/** Checks a POST/PUT body; the error lists every problem as `path: message`. */
export function parseRule(body: unknown, id: string, version: number): { ok: true; rule: Rule } | { ok: false; problems: string[] } {
  const r = ruleBody.safeParse(body);
  if (!r.success) {
    return { ok: false, problems: r.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(body)'}: ${i.message}`) };
  }
  const v = r.data;
  if (v.id !== undefined && v.id !== id) return { ok: false, problems: [`id: the body says ${v.id}, the path ${id}`] };
  const params = PARAMS[v.kind].parse(v.params) as ParamsOf<RuleKind>;
  return {
    ok: true,
    rule: {
      id, name: v.name, kind: v.kind, target: v.target, params, severity: v.severity, enabled: v.enabled, version,
      ...(v.webhook ? { webhook: v.webhook } : {}),
    },
  };
}

/** The rule as the API shows it: the webhook's secret is never returned. */
export function ruleView(rule: Rule): Record<string, unknown> {
  const { version, webhook: hook, ...rest } = rule;
  return { ...rest, version, ...(hook ? { webhook: { url: hook.url, has_secret: hook.secret !== undefined } } : {}) };
}

/** A compiled `device_pattern`: `*` any run of characters, `?` one; everything else literal. */
export function globMatcher(pattern: string): (id: string) => boolean {
  const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, 's');
  return (id) => re.test(id);
}

/** Whether a device-level rule applies to `deviceId` on `gatewayId` (the metric is checked apart). */
export function targetsDevice(rule: Rule, gatewayId: string, deviceId: string, glob?: (id: string) => boolean): boolean {
  const t = rule.target;
  if (t.gateway !== undefined && t.gateway !== gatewayId) return false;
  if (t.device !== undefined) return t.device === deviceId;
  if (t.device_pattern !== undefined) return (glob ?? globMatcher(t.device_pattern))(deviceId);
  return true;
}

/** Whether a gateway-level rule applies to `gatewayId`. */
export function targetsGateway(rule: Rule, gatewayId: string): boolean {
  return rule.target.gateway === undefined || rule.target.gateway === gatewayId;
}

/**
 * The identity of what an alert is about, for "one open alert per rule and target": the rule's
 * target resolved to one gateway, device and metric (absent parts empty). A JSON array, so no id
 * can run into the next, and it is storable: alerts.target_key is text, which cannot hold NUL.
 */
export function targetKey(t: { gateway?: string; device?: string; metric?: string }): string {
  return JSON.stringify([t.gateway ?? '', t.device ?? '', t.metric ?? '']);
}

/**
 * The body's JSON Schema, from the same zod model, for the OpenAPI document. Refinements across
 * fields (a metric for a threshold rule, each kind's params) are not in it: parseRule checks them.
 */
export function ruleBodyJsonSchema(): Record<string, unknown> {
  const { $schema: _drop, ...schema } = z.toJSONSchema(ruleBody, { io: 'input', unrepresentable: 'any', target: 'draft-7' });
  const kinds = Object.fromEntries(
    RULE_KINDS.map((k) => {
      const { $schema: _d, ...p } = z.toJSONSchema(PARAMS[k], { io: 'input', unrepresentable: 'any', target: 'draft-7' });
      return [k, p];
    }),
  );
  return { ...schema, description: `params by kind: ${JSON.stringify(kinds)}` };
}
