// The checks every reading passes, whatever protocol brought it (DESIGN.md guarantee 4).
import { decode as decodeCbor } from 'cborg';
import { v1 } from '../../../proto/src/wire.js';
import type { GatewayClock } from '../clock/clock.js';
import type { GatewayConfig } from '../config/schema.js';
import type { Envelope, Step, StepResult } from './types.js';

const METRIC_NAME = /^[A-Za-z0-9_.-]{1,64}$/;
/** Names that would reach Object.prototype when used as keys of a plain object. */
const RESERVED = new Set(['__proto__', 'constructor', 'prototype']);

/** Carries a refusal the adapter made before decoding into the quarantine path. */
export function admitStep(): Step {
  return { name: 'admit', run: (env) => env.preRejection };
}

export function decodeStep(): Step {
  return {
    name: 'decode',
    run(env) {
      if (env.format === 'reading') {
        return env.reading ? undefined : { code: 'FL_ERR_VALIDATE_SHAPE', detail: 'adapter supplied no reading' };
      }
      if (env.format === 'cbor') {
        let body: unknown;
        try {
          body = decodeCbor(env.raw);
        } catch (err) {
          return { code: 'FL_ERR_DECODE_CBOR', detail: (err as Error).message };
        }
        return fromJson(env, body);
      }
      if (env.format === 'protobuf') {
        try {
          const r = v1.Reading.decode(env.raw);
          env.reading = { deviceId: env.deviceId, tsMs: r.tsMs, metrics: r.metrics, source: env.source };
          return undefined;
        } catch (err) {
          return { code: 'FL_ERR_DECODE_PROTOBUF', detail: (err as Error).message };
        }
      }
      let body: unknown;
      try {
        body = JSON.parse(env.raw.toString('utf8'));
      } catch (err) {
        return { code: 'FL_ERR_DECODE_JSON', detail: (err as Error).message };
      }
      return fromJson(env, body);
    },
  };
}

function fromJson(env: Envelope, body: unknown): StepResult {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    return { code: 'FL_ERR_VALIDATE_SHAPE', detail: `got ${Array.isArray(body) ? 'an array' : typeof body}` };
  }
  const { ts, metrics } = body as Record<string, unknown>;
  // Keys beyond ts and metrics, found without copying the object (a rest pattern did, per message).
  const extra = Object.keys(body).filter((k) => k !== 'ts' && k !== 'metrics');
  if (extra.length) return { code: 'FL_ERR_VALIDATE_SHAPE', detail: `unknown field ${extra.map((k) => JSON.stringify(k)).join(', ')}` };
  if (typeof metrics !== 'object' || metrics === null || Array.isArray(metrics)) {
    return { code: 'FL_ERR_VALIDATE_SHAPE', detail: 'metrics must be an object' };
  }
  if (ts !== undefined && (typeof ts !== 'number' || !Number.isInteger(ts))) {
    return { code: 'FL_ERR_VALIDATE_TIMESTAMP', detail: `ts ${JSON.stringify(ts)} is not an integer` };
  }
  const values: Record<string, number> = {};
  for (const [name, value] of Object.entries(metrics)) {
    if (RESERVED.has(name)) return { code: 'FL_ERR_VALIDATE_METRIC_NAME', detail: `${JSON.stringify(name)} is reserved` };
    if (typeof value !== 'number') {
      return { code: 'FL_ERR_VALIDATE_NOT_NUMBER', detail: `${name} is ${JSON.stringify(value)}` };
    }
    values[name] = value;
  }
  env.reading = { deviceId: env.deviceId, tsMs: (ts as number | undefined) ?? 0, metrics: values, source: env.source };
  return undefined;
}

/**
 * Puts the message on the gateway's clock (clock/): receivedMs, and the time of a reading the
 * gateway stamps, i.e. one the device sent without a time, or one an adapter timed itself (Modbus
 * polls, format 'reading', on the system clock). While the clock is untrusted such a reading also
 * gets the monotonic time and boot id, so the outbox can correct it later (clock/retime.ts).
 */
export function clockStep(clock: GatewayClock): Step {
  return {
    name: 'clock',
    run(env) {
      const at = clock.stampAt(env.receivedMs);
      env.clock = at;
      env.receivedMs = at.wallMs;
      const r = env.reading;
      if (!r) return undefined;
      let stamp = at;
      if (!r.tsMs) r.tsMs = at.wallMs;
      else if (env.format === 'reading') r.tsMs = (stamp = clock.stampAt(Number(r.tsMs))).wallMs;
      else return undefined;
      if (!stamp.trusted) env.untrusted = { monoMs: stamp.monoMs, bootId: stamp.bootId };
      return undefined;
    },
  };
}

/** Readings without a time get the gateway's receive time. */
export function normalizeStep(): Step {
  return {
    name: 'normalize',
    run(env) {
      if (env.reading && !env.reading.tsMs) env.reading.tsMs = env.receivedMs;
      return undefined;
    },
  };
}

export function validateStep(cfg: GatewayConfig['pipeline']): Step {
  return {
    name: 'validate',
    run(env) {
      const r = env.reading;
      if (!r?.metrics) return { code: 'FL_ERR_VALIDATE_SHAPE', detail: 'no reading decoded' };
      const names = Object.keys(r.metrics);
      if (names.length === 0) return { code: 'FL_ERR_VALIDATE_NO_METRICS', detail: 'metrics is empty' };
      if (names.length > cfg.maxMetricsPerReading) {
        return { code: 'FL_ERR_VALIDATE_TOO_MANY_METRICS', detail: `${names.length} > ${cfg.maxMetricsPerReading}` };
      }
      for (const name of names) {
        if (!METRIC_NAME.test(name) || RESERVED.has(name)) return { code: 'FL_ERR_VALIDATE_METRIC_NAME', detail: JSON.stringify(name.slice(0, 80)) };
        const value = r.metrics[name] as number;
        if (!Number.isFinite(value)) return { code: 'FL_ERR_VALIDATE_NOT_FINITE', detail: `${name} is ${value}` };
      }
      for (const name of names) {
        const range = cfg.ranges[name];
        const value = r.metrics[name] as number;
        if (range && (value < range.min || value > range.max)) {
          return { code: 'FL_ERR_VALIDATE_OUT_OF_RANGE', detail: `${name} ${value} is outside [${range.min}, ${range.max}]` };
        }
      }
      const ts = r.tsMs ?? 0;
      // On an untrusted clock "too old" and "too far ahead" mean nothing: a gateway booted at 1970
      // would quarantine every device that keeps good time. Checked once the clock is trusted.
      if (env.clock && !env.clock.trusted) return undefined;
      if (ts > env.receivedMs + cfg.maxFutureSkewMs || ts < env.receivedMs - cfg.maxAgeMs) {
        return { code: 'FL_ERR_VALIDATE_TIMESTAMP', detail: `ts ${ts} is outside [now - ${cfg.maxAgeMs} ms, now + ${cfg.maxFutureSkewMs} ms]` };
      }
      return undefined;
    },
  };
}
