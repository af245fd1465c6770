// Issue 3, acceptance 4: thousands of malformed CoAP datagrams (random bytes and mutated valid
// messages) do not bring the gateway down or grow its memory, and a good device's readings still
// get 2.04 during and after the attack. The gateway (CoAP only) runs in a child process so a crash
// is a dead process, not a confused test. test/fuzz/ingest.test.ts does the same with MQTT and CoAP
// attacked at once; this one looks closer at the CoAP adapter's own counters.
import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { codeString } from '../../gateway/src/ingest/coap/message.js';
import { GatewayProcess, targetConfig } from '../fuzz/target.js';
import { coapDatagrams, fuzzSeed } from '../support/fuzz.js';
import { removeOnExit } from '../../devstack/net.js';
import { RawClient, sleep } from './support.js';

interface Stats {
  received: number;
  sent: number;
  counts: Record<string, number>;
  status: string;
  heapUsedBytes: number;
}

const SEED = fuzzSeed();
const DATAGRAMS = 12_000;

describe(`CoAP adapter under malformed datagrams (FUZZ_SEED=${SEED})`, () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-coap-fuzz-'));
  const cleaned = removeOnExit(dir);
  let target: GatewayProcess;
  let port = 0;

  before(async () => {
    target = await GatewayProcess.start(
      await targetConfig(dir, {
        mqtt: { enabled: false },
        api: { enabled: false },
        // The attack's valid POSTs come from 50 device ids; the limits are not what is tested here.
        rateLimit: { perProtocol: { coap: { ratePerSecond: 1_000_000, burst: 1_000_000 } } },
      }),
    );
    port = target.ports.coap;
  });

  after(async () => {
    await target?.kill();
    rmSync(dir, { recursive: true, force: true });
    cleaned();
  });

  const stats = async (gc = false): Promise<Stats> => {
    const s = await target.stats({ gc });
    return {
      received: s.stages.coap.received,
      sent: s.stages.coap.sent,
      counts: s.coapCounts ?? {},
      status: s.adapters.find((a) => a.name === 'coap')?.detail ?? '',
      heapUsedBytes: s.memory.heapUsed,
    };
  };

  /**
   * Waits until the adapter has read about as many datagrams as were sent, or stops making
   * progress. A UDP socket buffers only a few hundred datagrams, and an outbox commit (fsync) holds
   * the event loop for milliseconds: without this the test would mostly measure the kernel
   * dropping datagrams rather than the adapter reading them.
   */
  async function drained(expected: number): Promise<Stats> {
    let last = -1;
    for (;;) {
      const s = await stats();
      if (s.received >= expected - 5 || s.received === last) return s;
      last = s.received;
      await sleep(5);
    }
  }

  /** A well-behaved device: a CON POST, retransmitted as RFC 7252 §4.2 says if no answer comes. */
  async function goodPost(client: RawClient, n: number): Promise<string> {
    const req = client.post('good-device', { metrics: { seq: n } }, { contentFormat: 50 });
    for (let attempt = 0; attempt < 6; attempt++) {
      try {
        return codeString((await client.response(req, 1000)).code);
      } catch {
        client.resend(req);
      }
    }
    return 'no answer';
  }

  it(`stays up with bounded memory through ${DATAGRAMS} random and mutated datagrams, and good readings still get 2.04`, async () => {
    const good = await RawClient.open(port);
    const attackers: Socket[] = [];
    for (let i = 0; i < 4; i++) {
      const s = createSocket('udp4');
      s.on('message', () => undefined); // answers (RST, 4.xx) are not looked at
      await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()));
      attackers.push(s);
    }
    try {
      assert.equal(await goodPost(good, 0), '2.04');
      const baseline = await stats(true);
      const next = coapDatagrams(SEED);
      const goodAnswers: Array<Promise<string>> = [];
      let sentDatagrams = 0;
      for (let i = 0; i < DATAGRAMS; i++) {
        const s = attackers[i % attackers.length] as Socket;
        s.send(next(), port, '127.0.0.1');
        sentDatagrams++;
        if (i % 100 === 99) await drained(baseline.received + sentDatagrams + goodAnswers.length * 2);
        if (i % 1000 === 500) goodAnswers.push(goodPost(good, goodAnswers.length + 1));
      }
      const answers = await Promise.all(goodAnswers);
      assert.deepEqual(answers, answers.map(() => '2.04'), 'every good reading sent during the attack was acknowledged');

      const s = await drained(baseline.received + sentDatagrams);
      assert.ok(s.received - baseline.received >= sentDatagrams * 0.9, `the adapter read ${s.received - baseline.received} of ${sentDatagrams} datagrams`);
      assert.ok(s.counts.malformed! > DATAGRAMS / 4, `many were refused as malformed (${JSON.stringify(s.counts)})`);
      assert.ok(target.alive(), 'the gateway process is alive');

      // After the attack: a good request is still answered, and the reading is committed.
      assert.equal(await goodPost(good, 99), '2.04');
      const end = await stats(true);
      console.log(`fuzz: ${JSON.stringify({ sentDatagrams, read: end.received - baseline.received, counts: end.counts, heapGrowthMiB: (end.heapUsedBytes - baseline.heapUsedBytes) / 2 ** 20 })}`);
      assert.ok(end.sent > baseline.sent, 'readings still reach the outbox');
      assert.match(end.status, / 0 in flight/);
      const growthMiB = (end.heapUsedBytes - baseline.heapUsedBytes) / 2 ** 20;
      assert.ok(growthMiB < 48, `heap grew ${growthMiB.toFixed(1)} MiB`);
    } finally {
      await good.close();
      for (const s of attackers) s.close();
    }
  });
});
