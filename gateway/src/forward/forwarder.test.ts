// The heartbeat rides the forwarder's producer best effort, but a heartbeat lost on the way is
// counted (errors at stage "heartbeat"), not dropped silently: the link not ready, the producer
// refusing it (local queue full), and a failed delivery report. A delivered one counts as sent.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { encodeHeartbeat } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { Metrics } from '../metrics.js';
import type { Outbox } from '../outbox/outbox.js';
import { Forwarder, HEARTBEAT_STAGE } from './forwarder.js';

const cfg = gatewayConfigSchema.parse({});
const heartbeat = encodeHeartbeat({ gatewayId: 'gw-1', tsMs: 1_700_000_000_000 });

interface FakeProducer {
  isConnected(): boolean;
  produce(topic: string, partition: null, value: Buffer, key: string, ts: number, opaque: unknown): void;
}

/** A forwarder that was never started (its link has no producer), and a way to hand it a fake one. */
function forwarder(): { fw: Forwarder; metrics: Metrics; setProducer: (p: FakeProducer) => void; deliveryReport: (err: { message: string } | null, opaque: unknown) => void } {
  const metrics = new Metrics();
  // produceRaw never touches the outbox.
  const fw = new Forwarder(cfg.kafka, 'gw-1', {} as Outbox, metrics, pino({ level: 'silent' }));
  const internals = fw as unknown as { link: { producer: FakeProducer | null }; onDelivery(err: { message: string } | null, opaque: unknown): void };
  return {
    fw,
    metrics,
    setProducer: (p) => (internals.link.producer = p),
    deliveryReport: (err, opaque) => internals.onDelivery(err, opaque),
  };
}

describe('Forwarder.produceRaw (the heartbeat)', () => {
  it('a heartbeat the link cannot take is counted as errors{stage="heartbeat"}', async () => {
    const { fw, metrics } = forwarder();
    assert.equal(fw.produceRaw(cfg.kafka.heartbeatsTopic, heartbeat), false);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'errors'), 1);
    assert.match(await metrics.render(), /fieldline_gateway_errors_total\{stage="heartbeat"\} 1/);
  });

  it('a heartbeat the producer refuses (local queue full) is counted, and does not throw', () => {
    const { fw, metrics, setProducer } = forwarder();
    setProducer({
      isConnected: () => true,
      produce: () => {
        throw new Error('Local: Queue full');
      },
    });
    assert.equal(fw.produceRaw(cfg.kafka.heartbeatsTopic, heartbeat), false);
    assert.equal(fw.produceRaw(cfg.kafka.heartbeatsTopic, heartbeat), false);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'errors'), 2);
  });

  it('a produced heartbeat counts as sent on its delivery report, and as an error when the delivery fails', () => {
    const { fw, metrics, setProducer, deliveryReport } = forwarder();
    const produced: { topic: string; opaque: unknown }[] = [];
    setProducer({ isConnected: () => true, produce: (topic, _p, _v, _k, _ts, opaque) => void produced.push({ topic, opaque }) });
    assert.equal(fw.produceRaw(cfg.kafka.heartbeatsTopic, heartbeat), true);
    assert.equal(fw.produceRaw(cfg.kafka.heartbeatsTopic, heartbeat), true);
    assert.deepEqual(produced.map((p) => p.topic), [cfg.kafka.heartbeatsTopic, cfg.kafka.heartbeatsTopic]);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'errors'), 0, 'handed to the producer is not lost yet');
    deliveryReport(null, produced[0]!.opaque);
    deliveryReport({ message: 'Local: Message timed out' }, produced[1]!.opaque);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'sent'), 1);
    assert.equal(metrics.get(HEARTBEAT_STAGE, 'errors'), 1);
    assert.equal(metrics.get('forward', 'errors'), 0, 'a heartbeat is not a batch');
  });
});
