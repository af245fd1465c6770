// The forwarder hands its producer to the heartbeat lane (heartbeat-lane.test.ts has the lane's own
// behaviour) and routes each delivery report to its owner: a heartbeat's report counts at stage
// `heartbeat`, never as a batch's at `forward`.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { gatewayConfigSchema } from '../config/schema.js';
import { Metrics } from '../metrics.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { Forwarder } from './forwarder.js';
import { HEARTBEAT_STAGE } from './heartbeat-lane.js';

const cfg = gatewayConfigSchema.parse({});
const dir = mkdtempSync(join(tmpdir(), 'fieldline-forwarder-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('Forwarder and the heartbeat lane', () => {
  it('a heartbeat rides the forwarder\'s producer to the heartbeats topic, and its report counts at stage heartbeat only', async () => {
    const outbox = new SqliteOutbox({ path: join(dir, 'routing.db') });
    const metrics = new Metrics();
    // Never started: its link has no producer until the test hands it one.
    const fw = new Forwarder(cfg.kafka, 'gw-1', outbox, metrics, pino({ level: 'silent' }));
    const produced: { topic: string; opaque: unknown }[] = [];
    const internals = fw as unknown as {
      link: { producer: unknown; ready: boolean };
      onDelivery(err: { message: string } | null, opaque: unknown): void;
    };
    internals.link.producer = {
      isConnected: () => true,
      produce: (topic: string, _p: null, _v: Buffer, _k: string, _ts: number, opaque: unknown) => void produced.push({ topic, opaque }),
    };
    try {
      fw.heartbeats.start(async () => ({ gatewayId: 'gw-1', tsMs: 1_700_000_000_000 }));
      await new Promise((resolve) => setImmediate(resolve));
      assert.deepEqual(produced.map((p) => p.topic), [cfg.kafka.heartbeatsTopic]);
      internals.onDelivery(null, produced[0]!.opaque);
      assert.equal(metrics.get(HEARTBEAT_STAGE, 'sent'), 1);
      assert.equal(fw.status().heartbeat.sent, 1);
      assert.equal(metrics.get('forward', 'sent'), 0, 'a heartbeat is not a batch');
      assert.equal(metrics.get('forward', 'errors'), 0);
    } finally {
      fw.heartbeats.stop();
      outbox.close();
    }
  });
});
