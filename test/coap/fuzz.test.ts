// Issue 3, acceptance 4: thousands of malformed CoAP datagrams (random bytes and mutated valid
// messages) do not bring the gateway down or grow its memory, and a good device's readings still
// get 2.04 during and after the attack. The adapter runs in a child process so a crash is a dead
// process, not a confused test.
import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { encode as cborgEncode } from 'cborg';
// cborg returns a Uint8Array; callers want a Buffer.
const encodeCbor = (v: unknown): Buffer => Buffer.from(cborgEncode(v));
import { Code, Opt, codeString, encodeMessage, encodeUint, type CoapMessage, type MessageType } from '../../gateway/src/ingest/coap/message.js';
import { RawClient, sleep } from './support.js';

interface Stats {
  received: number;
  dropped: number;
  sent: number;
  errors: number;
  counts: Record<string, number>;
  status: string;
  rssBytes: number;
  heapUsedBytes: number;
}

const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const DATAGRAMS = 12_000;

/** mulberry32: small, seedable, good enough to pick bytes. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generator(seed: number) {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const bytes = (n: number) => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = int(256);
    return b;
  };
  const types: MessageType[] = ['CON', 'NON', 'ACK', 'RST'];
  const path = (...p: string[]) => p.map((s) => ({ number: Opt.URI_PATH, value: Buffer.from(s) }));
  const templates: Array<() => CoapMessage> = [
    () => ({ type: 'CON', code: Code.POST, messageId: int(65536), token: bytes(int(9)), options: [...path('telemetry', `fz-${int(50)}`), { number: Opt.CONTENT_FORMAT, value: encodeUint(50) }], payload: Buffer.from(JSON.stringify({ metrics: { temperature: int(200) - 60, humidity: int(120) } })) }),
    () => ({ type: 'NON', code: Code.POST, messageId: int(65536), token: bytes(int(9)), options: [...path('telemetry', `fz-${int(50)}`), { number: Opt.CONTENT_FORMAT, value: encodeUint(60) }], payload: Buffer.from(encodeCbor({ metrics: { t: rand() } })) }),
    () => ({ type: 'CON', code: Code.POST, messageId: int(65536), token: bytes(4), options: [...path('telemetry', 'fz-block'), { number: Opt.BLOCK1, value: encodeUint((int(4) << 4) | (int(2) << 3) | int(8)) }], payload: bytes(1 + int(64)) }),
    () => ({ type: types[int(4)] as MessageType, code: int(256), messageId: int(65536), token: bytes(int(9)), options: Array.from({ length: int(6) }, () => ({ number: int(3000), value: bytes(int(20)) })), payload: bytes(int(80)) }),
    () => ({ type: types[int(4)] as MessageType, code: Code.EMPTY, messageId: int(65536), token: Buffer.alloc(0), options: [], payload: Buffer.alloc(0) }),
    () => ({ type: 'CON', code: int(8), messageId: int(65536), token: bytes(2), options: [...path(...Array.from({ length: int(4) }, () => bytes(int(12)).toString('latin1'))), { number: Opt.PROXY_URI, value: bytes(int(3)) }], payload: bytes(int(10)) }),
  ];
  const mutate = (buf: Buffer): Buffer => {
    let b = Buffer.from(buf);
    for (let n = 1 + int(4); n > 0; n--) {
      switch (int(7)) {
        case 0: if (b.length) { const at = int(b.length); b[at] = (b[at] as number) ^ (1 << int(8)); } break; // flip a bit
        case 1: if (b.length) b[int(b.length)] = int(256); break; // replace a byte
        case 2: b = b.subarray(0, int(b.length + 1)); break; // truncate
        case 3: { const at = int(b.length + 1); b = Buffer.concat([b.subarray(0, at), bytes(1 + int(8)), b.subarray(at)]); break; } // insert
        case 4: if (b.length > 0) b[0] = ((b[0] as number) & 0xf0) | int(16); break; // token length nibble
        case 5: if (b.length > 4) b[4 + int(b.length - 4)] = [0xff, 0xdd, 0xee, 0xf0, 0x0f][int(5)] as number; break; // option nibbles 13/14/15
        case 6: b = Buffer.concat([b, b.subarray(int(b.length + 1))]); break; // repeat a tail
      }
    }
    return b;
  };
  return (): Buffer => {
    const kind = int(10);
    if (kind < 3) return bytes(int(kind === 0 ? 1400 : 40)); // random bytes, mostly short
    if (kind < 4) return Buffer.concat([Buffer.from([0x40 | int(64)]), bytes(int(60))]); // version 1, then random
    const valid = encodeMessage((templates[int(templates.length)] as () => CoapMessage)());
    return kind < 6 ? valid : mutate(valid);
  };
}

describe(`CoAP adapter under malformed datagrams (FUZZ_SEED=${SEED})`, () => {
  let child: ChildProcessWithoutNullStreams;
  let port = 0;
  let nextLine: () => Promise<string>;

  before(async () => {
    child = spawn(process.execPath, ['--expose-gc', join(import.meta.dirname, 'fuzz-target.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const queue: string[] = [];
    const waiting: Array<(line: string) => void> = [];
    createInterface({ input: child.stdout }).on('line', (line) => {
      const w = waiting.shift();
      if (w) w(line);
      else queue.push(line);
    });
    nextLine = () =>
      new Promise((resolve, reject) => {
        const line = queue.shift();
        if (line !== undefined) return resolve(line);
        const timer = setTimeout(() => reject(new Error(`fuzz target said nothing; stderr: ${stderr}`)), 15_000);
        waiting.push((l) => {
          clearTimeout(timer);
          resolve(l);
        });
      });
    port = (JSON.parse(await nextLine()) as { port: number }).port;
  });

  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.stdin.end('exit\n');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const kill = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(kill);
    }
  });

  const stats = async (gc = false): Promise<Stats> => {
    child.stdin.write(gc ? 'gc-stats\n' : 'stats\n');
    return JSON.parse(await nextLine()) as Stats;
  };

  /**
   * Waits until the adapter has read about as many datagrams as were sent, or stops making
   * progress. A UDP socket buffers only a few hundred datagrams, and an outbox commit (fsync) holds
   * the event loop for milliseconds: without this the test would mostly measure the kernel
   * dropping datagrams rather than the adapter reading them.
   */
  async function drained(target: number): Promise<Stats> {
    let last = -1;
    for (;;) {
      const s = await stats();
      if (s.received >= target - 5 || s.received === last) return s;
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
      const next = generator(SEED);
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
      assert.equal(child.exitCode, null, 'the gateway process is alive');

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
