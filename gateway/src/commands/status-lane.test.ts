// The status lane against a fake producer on a real ledger file: statuses wait in the ledger while
// Kafka refuses them (also across a restart) and go, key = command id, once it takes them; a row
// leaves the ledger only when its delivery is confirmed. And the commands section's defaults and
// environment override.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, test } from 'node:test';
import type Kafka from 'node-rdkafka';
import { pino } from 'pino';
import { validateRaw } from '../config/file.js';
import { CommandLedger } from './ledger.js';
import { StatusLane } from './status-lane.js';
import type { CommandStatus } from './wire.js';

const log = pino({ level: 'silent' });

interface Produced {
  topic: string;
  key: string;
  value: CommandStatus;
  headers: unknown;
  opaque: unknown;
}

class FakeProducer {
  readonly produced: Produced[] = [];
  refuse = false;
  produce(topic: string, _p: null, value: Buffer, key: string, _ts: number, opaque: unknown, headers: unknown): void {
    if (this.refuse) throw new Error('Local: Queue full');
    this.produced.push({ topic, key, value: JSON.parse(value.toString()) as CommandStatus, headers, opaque });
  }
}

let dir: string;
let ledger: CommandLedger;
let now: number;

function status(id: string, s: CommandStatus['status']): CommandStatus {
  return { id, device_id: 'd', gateway_id: 'g', status: s, ts_ms: 1 };
}

function lane(): StatusLane {
  return new StatusLane('iot.command-status', ledger, log, { minMs: 100, maxMs: 1_000 }, () => now);
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'fieldline-status-lane-'));
  ledger = new CommandLedger(join(dir, 'commands.db'));
  now = 0;
});

afterEach(() => {
  ledger.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('command statuses to Kafka', () => {
  test('each status goes once, keyed by command id, with content-type json; it leaves the ledger on confirmation only', () => {
    ledger.queueStatus(status('a', 'delivered'));
    ledger.queueStatus(status('a', 'acknowledged'));
    const l = lane();
    const p = new FakeProducer();
    l.pump(p as unknown as Kafka.Producer);
    l.pump(p as unknown as Kafka.Producer);
    assert.deepEqual(p.produced.map((m) => [m.topic, m.key, m.value.status]), [['iot.command-status', 'a', 'delivered'], ['iot.command-status', 'a', 'acknowledged']]);
    assert.deepEqual(p.produced[0]!.headers, [{ 'content-type': 'application/json' }]);
    assert.equal(l.waiting(), 2, 'produced, not yet confirmed');
    for (const m of p.produced) {
      assert.equal(l.owns(m.opaque), true);
      l.onDelivery(null, m.opaque);
    }
    assert.equal(l.waiting(), 0);
    assert.equal(l.owns(7), false, 'a batch seq is the forwarder\'s');
  });

  test('refused by Kafka: kept, sent again after the backoff, also by the lane of the next run', () => {
    ledger.queueStatus(status('a', 'expired'));
    const l = lane();
    const p = new FakeProducer();
    l.pump(p as unknown as Kafka.Producer);
    l.onDelivery({ message: 'Local: Message timed out' }, p.produced[0]!.opaque);
    l.pump(p as unknown as Kafka.Producer);
    assert.equal(p.produced.length, 1, 'not again before the backoff');
    now = 100;
    p.refuse = true;
    l.pump(p as unknown as Kafka.Producer);
    assert.equal(l.waiting(), 1);

    // A restart: a new ledger handle and lane find the row and send it.
    ledger.close();
    ledger = new CommandLedger(join(dir, 'commands.db'));
    const next = lane();
    const q = new FakeProducer();
    next.pump(q as unknown as Kafka.Producer);
    assert.deepEqual(q.produced.map((m) => m.value.status), ['expired']);
    next.onDelivery(null, q.produced[0]!.opaque);
    assert.equal(next.waiting(), 0);
  });
});

describe('the commands section', () => {
  test('defaults, and every key from the environment like the other sections', () => {
    const d = validateRaw({}, {});
    assert.deepEqual(d.commands, { enabled: true, topic: 'iot.commands', statusTopic: 'iot.command-status', pollIntervalMs: 500, keepDoneMs: 604_800_000 });
    const env = validateRaw({}, { FIELDLINE_GATEWAY_COMMANDS__ENABLED: 'false', FIELDLINE_GATEWAY_COMMANDS__STATUS_TOPIC: 'x.status', FIELDLINE_GATEWAY_COMMANDS__POLL_INTERVAL_MS: '50' });
    assert.equal(env.commands.enabled, false);
    assert.equal(env.commands.statusTopic, 'x.status');
    assert.equal(env.commands.pollIntervalMs, 50);
    assert.throws(() => validateRaw({ commands: { pollIntervalMs: 0 } }, {}), /commands\.pollIntervalMs/);
    assert.throws(() => validateRaw({ commands: { topics: 'x' } }, {}), /topics/);
  });
});
