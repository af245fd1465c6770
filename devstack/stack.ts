// The whole spine in one test process: a real Kafka broker (KRaft, Apache's jars), the cloud with
// the embedded TimescaleDB or a real PostgreSQL, and a gateway, all on free ports in a temp dir.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { Cloud } from '../cloud-sink/src/cloud.js';
import { cloudConfigSchema } from '../cloud-sink/src/config/schema.js';
import { gatewayConfigSchema, type GatewayConfig } from '../gateway/src/config/schema.js';
import { Gateway } from '../gateway/src/gateway.js';
import { startKafka, type KafkaBroker } from './kafka.js';
import { freePort } from './net.js';
import { FIELDLINE_TOPICS } from './topics.js';


/** Kafka and the cloud (sink + API + database), without a gateway: for tests that run gateways themselves. */
export interface CloudStack {
  dir: string;
  kafka: KafkaBroker;
  cloud: Cloud;
  apiUrl: string;
  token: string;
  /** The seq metric values the API returns for a device, in time order. */
  seqsOf(deviceId: string): Promise<number[]>;
  /** Polls until check() holds or the time runs out; returns the last value either way. */
  waitFor<T>(read: () => Promise<T>, check: (v: T) => boolean, timeoutMs: number): Promise<T>;
  stop(): Promise<void>;
}

export interface Stack extends CloudStack {
  gateway: Gateway;
  mqttUrl: string;
}

/** Limits far above anything the tests and benchmarks send, unless a test is about limits. */
export const GENEROUS_LIMITS = {
  profiles: { default: { ratePerSecond: 1_000_000, burst: 1_000_000 } },
  perProtocol: {
    mqtt: { ratePerSecond: 1_000_000, burst: 1_000_000 },
    coap: { ratePerSecond: 1_000_000, burst: 1_000_000 },
    modbus: { ratePerSecond: 1_000_000, burst: 1_000_000 },
  },
};

export async function startStack(
  opts: { databaseUrl?: string; gateway?: Partial<GatewayConfig['kafka']>; rateLimit?: Partial<GatewayConfig['rateLimit']> } = {},
): Promise<Stack> {
  const base = await startCloud(opts);
  const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });
  let gateway: Gateway;
  try {
    gateway = new Gateway(
      gatewayConfigSchema.parse({
        gatewayId: 'gw-e2e',
        dataDir: join(base.dir, 'gateway'),
        mqtt: { host: '127.0.0.1', port: await freePort(), persistSessions: false },
        coap: { host: '127.0.0.1', port: 0 },
        api: { host: '127.0.0.1', port: 0, adminToken: 'local-admin-token-for-tests' },
        rateLimit: { ...GENEROUS_LIMITS, ...opts.rateLimit },
        kafka: { brokers: base.kafka.bootstrap, retryBackoffMinMs: 200, retryBackoffMaxMs: 2_000, messageTimeoutMs: 5_000, ...opts.gateway },
      }),
      quiet,
    );
    await gateway.start();
  } catch (err) {
    await base.stop();
    throw err;
  }
  return {
    ...base,
    gateway,
    mqttUrl: `mqtt://127.0.0.1:${gateway.mqtt!.boundPort}`,
    async stop() {
      await gateway.stop().catch(() => undefined);
      await base.stop();
    },
  };
}

/**
 * Kafka (topics created) and the cloud, in a temp dir, with no gateway: the fault tests start
 * gateways as child processes against kafka.bootstrap so they can kill them.
 */
export async function startCloud(opts: { databaseUrl?: string; api?: Record<string, unknown> } = {}): Promise<CloudStack> {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-e2e-'));
  const kafka = await startKafka({ dataDir: join(dir, 'kafka'), logDir: dir });
  await kafka.createTopics([...FIELDLINE_TOPICS]);
  const quiet = pino({ level: process.env.FIELDLINE_TEST_LOG ?? 'silent' });

  const cloud = new Cloud(
    cloudConfigSchema.parse({
      dataDir: join(dir, 'cloud'),
      kafka: { brokers: kafka.bootstrap },
      database: opts.databaseUrl ? { url: opts.databaseUrl } : {},
      api: { host: '127.0.0.1', port: 0, ...opts.api },
    }),
    'all',
    quiet,
  );
  await cloud.start();

  const apiUrl = `http://127.0.0.1:${cloud.apiPort}`;
  const token = await cloud.auth.issue({ subject: 'e2e', role: 'viewer', ttlSeconds: 3600 });

  return {
    dir,
    kafka,
    cloud,
    apiUrl,
    token,
    async seqsOf(deviceId) {
      const out: number[] = [];
      let cursor: string | null = null;
      do {
        const q = new URLSearchParams({ metric: 'seq', from: '0', limit: '10000', ...(cursor ? { cursor } : {}) });
        const res = await fetch(`${apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/readings?${q}`, {
          headers: { authorization: `Bearer ${token}` },
        });
        if (res.status === 404) return [];
        if (!res.ok) throw new Error(`API ${res.status}: ${await res.text()}`);
        const body = (await res.json()) as { readings: { value: number }[]; next_cursor: string | null };
        out.push(...body.readings.map((r) => r.value));
        cursor = body.next_cursor;
      } while (cursor);
      return out;
    },
    async waitFor(read, check, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const v = await read();
        if (check(v) || Date.now() > deadline) return v;
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      await cloud.stop().catch(() => undefined);
      await kafka.destroy().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Every acknowledged seq is there exactly once: returns what is missing and what is doubled. */
export function exactlyOnce(acked: Iterable<number>, stored: number[]): { missing: number[]; doubled: number[] } {
  const counts = new Map<number, number>();
  for (const s of stored) counts.set(s, (counts.get(s) ?? 0) + 1);
  const missing = [...acked].filter((s) => !counts.has(s));
  const doubled = [...counts].filter(([, n]) => n > 1).map(([s]) => s);
  return { missing, doubled };
}
