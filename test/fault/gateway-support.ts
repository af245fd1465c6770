// Shared pieces of the gateway fault tests (issue 4): the gateway as a child process that can be
// killed with SIGKILL and started again on the same data dir and ports, its local API, simulated
// MQTT devices that remember which seqs were acknowledged, and read-back from the database and
// from Kafka. Kafka and the cloud come from devstack/stack.ts (startCloud).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, fsyncSync, mkdirSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startMqttFleet, type MqttFleet } from '../../firmware-sim/src/mqtt-sensor.js';
import { decodeBatch } from '../../proto/src/wire.js';
import { exactlyOnce, type CloudStack } from '../../devstack/stack.js';
import { PacketReader, Type, connect, disconnect, publish } from '../support/mqtt-wire.js';
import { run } from '../../devstack/net.js';

/** FIELDLINE_SOAK=1 (npm run test:soak): the full-length runs issue 4 asks for. */
export const SOAK = process.env.FIELDLINE_SOAK === '1';

export { GatewayChild, type GatewayChildOptions, type GatewayStatus } from '../../devstack/gateway-child.js';
import type { GatewayChild } from '../../devstack/gateway-child.js';

/** Waits up to 30 s for the armed failpoint `name` to kill the gateway, and checks that it did. */
export async function diedAtFailpoint(gw: GatewayChild, name: string): Promise<void> {
  const exit = await Promise.race([gw.exited, sleep(30_000).then(() => null)]);
  assert.ok(exit, 'the failpoint never fired: the gateway still runs 30 s after the devices started');
  assert.equal(exit.signal, 'SIGKILL', JSON.stringify(exit));
  assert.ok(gw.log().includes(`failpoint ${name}`), `no "failpoint ${name}" in the gateway's log`);
}

/** Polls read() until check() holds; throws with describe(last value) when the time runs out. */
export async function waitUntil<T>(
  what: string,
  read: () => Promise<T>,
  check: (v: T) => boolean,
  timeoutMs: number,
  intervalMs = 250,
  describe: (v: T) => string = (v) => JSON.stringify(v).slice(0, 2000),
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (check(v)) return v;
    if (Date.now() > deadline) throw new Error(`${what}: not reached within ${timeoutMs} ms; last: ${describe(v)}`);
    await sleep(intervalMs);
  }
}

export interface FleetOptions {
  url: string;
  sensors: number;
  /** Messages per second per device. */
  rate: number;
  /** Metrics besides seq; each message carries 1 + metrics.length readings. */
  metrics: string[];
  prefix: string;
}

/** MQTT.js devices at QoS 1 (firmware-sim) that record every acknowledged seq and when acks arrive. */
export class AckedFleet implements Fleet {
  readonly acked = new Map<string, Set<number>>();
  readonly readingsPerMessage: number;
  ackCount = 0;
  firstPublishMs = 0;
  lastAckMs = 0;
  private fleet!: MqttFleet;

  private constructor(readonly opts: FleetOptions) {
    this.readingsPerMessage = opts.metrics.length + 1;
  }

  static async start(opts: FleetOptions): Promise<AckedFleet> {
    const f = new AckedFleet(opts);
    f.firstPublishMs = Date.now();
    f.fleet = await startMqttFleet({
      url: opts.url,
      sensors: opts.sensors,
      rate: opts.rate,
      qos: 1,
      prefix: opts.prefix,
      metrics: opts.metrics,
      onAck: (deviceId, seq) => {
        let set = f.acked.get(deviceId);
        if (!set) f.acked.set(deviceId, (set = new Set()));
        set.add(seq);
        f.ackCount++;
        f.lastAckMs = Date.now();
      },
    });
    for (const d of f.fleet.deviceIds) if (!f.acked.has(d)) f.acked.set(d, new Set());
    return f;
  }

  get deviceIds(): string[] {
    return this.fleet.deviceIds;
  }

  get sent(): number {
    return this.fleet.stats.sent;
  }

  ackedReadings(): number {
    return this.ackCount * this.readingsPerMessage;
  }

  /** Stops publishing and waits up to drainMs for acknowledgements still due. */
  async stop(drainMs = 15_000): Promise<void> {
    await this.fleet.stop(drainMs);
  }
}

/** What the checks need from a fleet of devices, whichever client library drives them. */
export interface Fleet {
  readonly acked: Map<string, Set<number>>;
  readonly readingsPerMessage: number;
  readonly deviceIds: string[];
  ackCount: number;
  firstPublishMs: number;
  lastAckMs: number;
  /** Messages published (first transmissions only). */
  readonly sent: number;
  ackedReadings(): number;
  stop(drainMs?: number): Promise<void>;
}

interface WireMessage {
  seq: number;
  packet: Buffer;
  /** Sent at least once: a resend carries DUP=1 [MQTT-3.3.1-1]. */
  sent: boolean;
}

/**
 * One QoS 1 device speaking MQTT 3.1.1 on a raw socket, as constrained firmware does: a persistent
 * session (CleanSession=0), any number of PUBLISHes waiting for their PUBACK, and after a
 * reconnect every unacknowledged one sent again at once with its original packet id and DUP=1
 * [MQTT-4.4.0-1]. MQTT.js resends its store one message per round trip after a reconnect, which
 * cannot keep up with thousands of readings a second across repeated gateway kills.
 */
class WireDevice {
  private sock: Socket | null = null;
  private reader = new PacketReader();
  private connected = false;
  private stopped = false;
  private readonly unacked = new Map<number, WireMessage>();
  private nextId = 1;
  private seq = 0;
  private due = 0;
  private last = Date.now();
  private timer?: NodeJS.Timeout;
  private reconnectTimer?: NodeJS.Timeout;
  sent = 0;
  connects = 0;

  constructor(
    private readonly port: number,
    readonly deviceId: string,
    private readonly rate: number,
    private readonly metrics: string[],
    private readonly onAck: (seq: number) => void,
  ) {}

  start(): void {
    this.connect();
    this.last = Date.now();
    this.timer = setInterval(() => this.tick(), 10);
  }

  private tick(): void {
    const now = Date.now();
    this.due += ((now - this.last) * this.rate) / 1000;
    this.last = now;
    // Packet ids are 16 bits; a device cannot have more in flight than that.
    for (; this.due >= 1 && this.unacked.size < 60_000; this.due--) this.publishNext(now);
  }

  private publishNext(ts: number): void {
    const seq = ++this.seq;
    const metrics: Record<string, number> = { seq };
    for (const [i, m] of this.metrics.entries()) metrics[m] = Math.round((20 + 10 * Math.sin((seq + i * 7) / 50)) * 100) / 100;
    let id = this.nextId;
    while (this.unacked.has(id)) id = (id % 65_535) + 1;
    this.nextId = (id % 65_535) + 1;
    const msg: WireMessage = {
      seq,
      packet: publish({ version: 4, topic: `devices/${this.deviceId}/telemetry`, payload: JSON.stringify({ ts, metrics }), qos: 1, messageId: id }),
      sent: false,
    };
    this.unacked.set(id, msg);
    this.sent++;
    if (this.connected) this.write(msg);
  }

  private write(msg: WireMessage): void {
    // The DUP flag is bit 3 of the first byte.
    if (msg.sent) msg.packet[0] = (msg.packet[0] as number) | 0x08;
    msg.sent = true;
    this.sock?.write(msg.packet);
  }

  private connect(): void {
    if (this.stopped) return;
    const sock = createConnection({ host: '127.0.0.1', port: this.port });
    this.sock = sock;
    sock.setNoDelay(true);
    sock.on('connect', () => sock.write(connect({ version: 4, clientId: this.deviceId, clean: false, keepalive: 0 })));
    sock.on('data', (chunk: Buffer) => {
      for (const p of this.reader.push(chunk)) this.onPacket(p.type, p.body);
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      if (this.sock !== sock) return;
      this.connected = false;
      this.sock = null;
      this.reader = new PacketReader();
      if (!this.stopped) this.reconnectTimer = setTimeout(() => this.connect(), 200);
    });
  }

  private onPacket(type: number, body: Buffer): void {
    if (type === Type.CONNACK) {
      if (body[1] !== 0) return void this.sock?.destroy();
      this.connected = true;
      this.connects++;
      // Everything not acknowledged goes again, oldest first, in one write.
      const all = [...this.unacked.values()];
      for (const m of all) {
        if (m.sent) m.packet[0] = (m.packet[0] as number) | 0x08;
        m.sent = true;
      }
      if (all.length) this.sock?.write(Buffer.concat(all.map((m) => m.packet)));
    } else if (type === Type.PUBACK) {
      const id = body.readUInt16BE(0);
      const msg = this.unacked.get(id);
      if (!msg) return;
      this.unacked.delete(id);
      this.onAck(msg.seq);
    }
  }

  get pending(): number {
    return this.unacked.size;
  }

  stopPublishing(): void {
    clearInterval(this.timer);
  }

  close(): void {
    this.stopped = true;
    this.stopPublishing();
    clearTimeout(this.reconnectTimer);
    if (this.sock && this.connected) this.sock.end(disconnect());
    else this.sock?.destroy();
  }
}

/** Raw-socket QoS 1 devices (WireDevice) that record every acknowledged seq. */
export class WireFleet implements Fleet {
  readonly acked = new Map<string, Set<number>>();
  readonly readingsPerMessage: number;
  ackCount = 0;
  firstPublishMs = 0;
  lastAckMs = 0;
  /** Acknowledgements per wall-clock second since the start (index = second). */
  readonly acksPerSecond: number[] = [];
  private readonly devices: WireDevice[];

  constructor(opts: Omit<FleetOptions, 'url'> & { port: number }) {
    this.readingsPerMessage = opts.metrics.length + 1;
    this.devices = Array.from({ length: opts.sensors }, (_, i) => {
      const id = `${opts.prefix}-${String(i + 1).padStart(3, '0')}`;
      const set = new Set<number>();
      this.acked.set(id, set);
      return new WireDevice(opts.port, id, opts.rate, opts.metrics, (seq) => {
        set.add(seq);
        this.ackCount++;
        this.lastAckMs = Date.now();
        const sec = Math.floor((this.lastAckMs - this.firstPublishMs) / 1000);
        this.acksPerSecond[sec] = (this.acksPerSecond[sec] ?? 0) + 1;
      });
    });
  }

  static start(opts: Omit<FleetOptions, 'url'> & { port: number }): WireFleet {
    const f = new WireFleet(opts);
    f.firstPublishMs = Date.now();
    for (const d of f.devices) d.start();
    return f;
  }

  get deviceIds(): string[] {
    return this.devices.map((d) => d.deviceId);
  }

  get sent(): number {
    return this.devices.reduce((n, d) => n + d.sent, 0);
  }

  get pending(): number {
    return this.devices.reduce((n, d) => n + d.pending, 0);
  }

  get connects(): number {
    return this.devices.reduce((n, d) => n + d.connects, 0);
  }

  ackedReadings(): number {
    return this.ackCount * this.readingsPerMessage;
  }

  stopPublishing(): void {
    for (const d of this.devices) d.stopPublishing();
  }

  /** Stops publishing, waits up to drainMs for every PUBACK still due, then disconnects. */
  async stop(drainMs = 15_000): Promise<void> {
    this.stopPublishing();
    const deadline = Date.now() + drainMs;
    while (this.pending > 0 && Date.now() < deadline) await sleep(50);
    for (const d of this.devices) d.close();
  }
}

export interface DeviceCheck {
  device: string;
  acked: number;
  stored: number;
  missing: number[];
  doubled: number[];
}

/**
 * Waits until every acknowledged seq of every device is in the database (or the time runs out),
 * then reports per device what is missing and what is stored more than once.
 */
/**
 * Reads back every acknowledged message of every device until `settled` holds (by default: nothing
 * missing) or `timeoutMs` passes, and returns the last reading. A test that expects some to be
 * missing (evicted ones) passes a `settled` that says how many, so it waits for the sink to catch up.
 */
export async function checkExactlyOnce(
  cloud: CloudStack,
  acked: ReadonlyMap<string, ReadonlySet<number>>,
  timeoutMs: number,
  settled: (r: DeviceCheck[]) => boolean = (r) => r.every((d) => d.missing.length === 0),
): Promise<DeviceCheck[]> {
  const read = async (): Promise<DeviceCheck[]> => {
    const out: DeviceCheck[] = [];
    for (const [device, seqs] of acked) {
      const stored = await cloud.seqsOf(device);
      const r = exactlyOnce(seqs, stored);
      out.push({ device, acked: seqs.size, stored: stored.length, ...r });
    }
    return out;
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await read();
    if (settled(r) || Date.now() > deadline) return r;
    await sleep(1_000);
  }
}

/** Asserts a checkExactlyOnce result, naming the first few missing or doubled seqs per device. */
export function assertExactlyOnce(result: DeviceCheck[]): void {
  const bad = result
    .filter((d) => d.missing.length > 0 || d.doubled.length > 0)
    .map((d) => `${d.device}: ${d.missing.length} missing (${d.missing.slice(0, 10).join(',')}), ${d.doubled.length} doubled (${d.doubled.slice(0, 10).join(',')})`);
  assert.deepEqual(bad, [], `acknowledged readings not stored exactly once:\n${bad.join('\n')}`);
}

/** A device's readings of one metric from the cloud API, as (ts ms, value), in the API's (time) order. */
export async function readingsOf(cloud: CloudStack, deviceId: string, metric = 'seq'): Promise<{ ts: number; value: number }[]> {
  const out: { ts: number; value: number }[] = [];
  let cursor: string | null = null;
  do {
    const q = new URLSearchParams({ metric, from: '0', limit: '10000', ...(cursor ? { cursor } : {}) });
    const res = await fetch(`${cloud.apiUrl}/v1/devices/${encodeURIComponent(deviceId)}/readings?${q}`, {
      headers: { authorization: `Bearer ${cloud.token}` },
    });
    if (res.status === 404) return [];
    if (!res.ok) throw new Error(`API ${res.status}: ${await res.text()}`);
    const body = (await res.json()) as { readings: { ts: string; value: number }[]; next_cursor: string | null };
    out.push(...body.readings.map((r) => ({ ts: Date.parse(r.ts), value: r.value })));
    cursor = body.next_cursor;
  } while (cursor);
  return out;
}

/** One message of iot.readings as kcat reads it: partition, offset, headers, the decoded batch. */
export interface KafkaBatch {
  partition: number;
  offset: number;
  headers: Record<string, string>;
  gatewayId: string;
  seq: number;
  /** (device, seq metric) of each reading, in batch order; readings without a seq metric are skipped. */
  readings: { deviceId: string; seq: number }[];
}

/**
 * Every batch of one gateway in the topic, read with kcat from the beginning to the current end,
 * in offset order (a gateway's batches share one partition: the key is the gateway id).
 */
export async function kafkaBatches(bootstrap: string, gatewayId: string, topic = 'iot.readings'): Promise<KafkaBatch[]> {
  // Text line (partition, offset, headers), then the value framed by its 4-byte length.
  const child = await runBinary('kcat', ['-C', '-b', bootstrap, '-t', topic, '-o', 'beginning', '-e', '-q', '-f', '%p %o %h\\n%R%s']);
  const out: KafkaBatch[] = [];
  let pos = 0;
  while (pos < child.length) {
    const nl = child.indexOf(0x0a, pos);
    if (nl < 0) throw new Error(`kcat output cut at byte ${pos}`);
    const [p, o, h = ''] = child.subarray(pos, nl).toString('utf8').split(' ');
    const len = child.readInt32BE(nl + 1);
    const value = child.subarray(nl + 5, nl + 5 + len);
    pos = nl + 5 + Math.max(0, len);
    const headers = Object.fromEntries(h.split(',').filter(Boolean).map((kv) => kv.split('=') as [string, string]));
    if (headers['gateway-id'] !== gatewayId) continue;
    const batch = decodeBatch(Buffer.from(value));
    out.push({
      partition: Number(p),
      offset: Number(o),
      headers,
      gatewayId: batch.gatewayId ?? '',
      seq: Number(batch.seq),
      readings: batch.readings
        .filter((r) => r.metrics?.['seq'] !== undefined)
        .map((r) => ({ deviceId: r.deviceId ?? '', seq: r.metrics!['seq'] as number })),
    });
  }
  return out.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}

function runBinary(cmd: string, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.once('error', reject);
    child.once('close', (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString()}`));
    });
  });
}

/**
 * Kafka arrival order per device: over the first copy of each batch seq (a resent batch is a
 * second copy the sink's ledger drops), every device's seqs must rise within each lane (live, backlog). Returns the violations.
 */
export function kafkaOrderViolations(batches: KafkaBatch[]): string[] {
  const seenBatch = new Set<number>();
  const last = new Map<string, number>();
  const bad: string[] = [];
  for (const b of batches) {
    if (seenBatch.has(b.seq)) continue;
    seenBatch.add(b.seq);
    // Issue 15: after an outage live readings go ahead of the backlog, so a device's order holds
    // within each lane (the batch's lane header; gateways before it sent one lane, "live").
    const lane = b.headers['lane'] ?? 'live';
    for (const r of b.readings) {
      const key = `${lane}\u0000${r.deviceId}`;
      const prev = last.get(key);
      if (prev !== undefined && r.seq <= prev) bad.push(`${r.deviceId}: seq ${r.seq} after ${prev} in the ${lane} lane (batch ${b.seq}, offset ${b.offset})`);
      last.set(key, r.seq);
    }
  }
  return bad;
}

/**
 * Mounts a tmpfs of `size` (e.g. '24m') on a new directory under `parent` (needs root, as CI has).
 * The returned function unmounts it; an exit hook does the same if the test process dies first.
 */
export async function mountTmpfs(parent: string, size: string): Promise<{ dir: string; unmount(): Promise<void> }> {
  const dir = join(parent, `tmpfs-${process.pid}-${Date.now()}`);
  mkdirSync(dir, { recursive: true });
  const r = await run('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir]);
  if (r.code !== 0) throw new Error(`mount -t tmpfs failed (root needed): ${r.stderr}`);
  const onExit = () => spawnSync('umount', ['-l', dir]);
  process.once('exit', onExit);
  let mounted = true;
  return {
    dir,
    async unmount() {
      if (!mounted) return;
      const u = await run('umount', [dir]);
      // Busy (a child not yet reaped): detach it now, it goes when the last user does.
      if (u.code !== 0) await run('umount', ['-l', dir]);
      mounted = false;
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export function freeBytes(dir: string): number {
  const s = statfsSync(dir);
  return Number(s.bavail) * Number(s.bsize);
}

/**
 * Writes `file` until the filesystem has at most `leaveBytes` free (0: until ENOSPC). Returns the
 * size written. Data is written, not preallocated, as a runaway log file would.
 */
export function fillDisk(file: string, leaveBytes: number): number {
  const fd = openSync(file, 'w');
  let written = 0;
  try {
    for (const chunk of [1 << 20, 1 << 16, 1 << 12]) {
      const buf = Buffer.alloc(chunk, 0x5a);
      for (;;) {
        const free = freeBytes(dirname(file));
        if (free <= leaveBytes || (leaveBytes > 0 && free - chunk < leaveBytes)) break;
        try {
          written += writeSync(fd, buf);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw err;
        }
      }
    }
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return written;
}

/** `run` re-exported for tests that shell out (mount, kcat). */
export { run };
