// The bus scheduler: the one owner of a serial port or Modbus/TCP connection. Requests never
// interleave because only this loop talks to the transport, one request at a time.
//
// Fairness is what keeps a dead slave from stalling the others. The loop gives devices turns in
// round-robin order; in its turn a device runs the requests of its oldest due poll back to back, and
// the turn ends at the first request that gets no usable answer. A retry waits for the device's next
// turn, after every other device with due work has had one. So while a slave is silent, each other
// device waits behind at most one of its timeouts. After a poll in which every try went unanswered,
// the slave is left alone for an exponentially growing backoff and its due polls are skipped.
//
// Manual requests (a field tech's scan or test read, through request()) share the line the same way:
// they wait in a queue of their own that takes turns like one more device, one request per turn. So
// in each round a scan delays the polls by at most one manual request's timeout, and a busy bus
// still serves the scan.
import type { Logger } from 'pino';
import { GatewayError, type ErrorCode } from '../../errors.js';
import { realClock, type BusClock } from './clock.js';
import type { BusConfig, DeviceConfig, TagGroupConfig } from './config.js';
import { decodeTag } from './conversions.js';
import { planRequests, type ReadRequest } from './plan.js';
import { checkRead, exceptionHandling, exceptionName, type ReadFunction } from './spec.js';
import { ModbusFailure, classify, type FailureKind, type Transport } from './transport.js';
import type { WriteRequest } from './writes.js';

/** One poll of one tag group of one device, as the adapter turns it into a reading. */
export interface PollResult {
  bus: string;
  device: DeviceConfig;
  group: TagGroupConfig;
  /** When the poll's first request went out: the reading's time. */
  tsMs: number;
  /** When its last response came back. */
  doneMs: number;
  /** Tags of the requests that were answered, scaled. */
  metrics: Record<string, number>;
  /** The data bytes of the answered requests, in request order. */
  raw: Buffer;
  requests: number;
  failedRequests: number;
}

export interface LastError {
  atMs: number;
  kind: FailureKind;
  /** The catalogue code (FL_ERR_MODBUS_…). */
  code: ErrorCode;
  message: string;
  exceptionCode?: number;
}

export interface PollCounters {
  /** Polls whose every request was answered. */
  complete: number;
  /** Polls with some requests answered and some not; the reading carries the answered tags. */
  partial: number;
  /** Polls with no request answered: no reading. */
  failed: number;
  /** Due polls not started because the device was in backoff. */
  skipped: number;
  /** Due polls not started because the previous poll of the group had not finished (bus too busy, or down). */
  missed: number;
}

export interface DeviceStats {
  deviceId: string;
  unitId: number;
  /** up: answered its last request; backoff: left alone after silent polls; down: backoff over, no answer yet; unknown: never answered. */
  state: 'up' | 'backoff' | 'down' | 'unknown';
  /** Requests answered with data. */
  ok: number;
  /** Requests with no answer within timeoutMs. */
  timeout: number;
  /** Answers that failed the CRC check (RTU). */
  crcError: number;
  /** Exception responses by exception code [MAP §7]. */
  exception: Record<string, number>;
  /** Answers that were malformed otherwise (wrong length, wrong slave or function). */
  protocolError: number;
  /** Tries repeated after a timeout, CRC error, malformed or busy answer. */
  retries: number;
  polls: PollCounters;
  backoffUntilMs: number | null;
  lastOkMs: number | null;
  lastError: LastError | null;
}

export interface BusStats {
  name: string;
  type: 'tcp' | 'rtu';
  connected: boolean;
  /** Successful opens of the connection or port. */
  connects: number;
  /** Failed opens, and requests that found the connection gone. */
  connectErrors: number;
  /** Requests sent, polls and manual ones. */
  requests: number;
  /** Of those, manual requests (request(): scans and test reads). */
  manualRequests: number;
  /** Registers and bits read (the benchmark's figure). */
  itemsRead: number;
  interFrameDelayMs: number;
  lastError: LastError | null;
  devices: DeviceStats[];
}

export interface BusEvents {
  /** A poll produced values. Called synchronously from the loop: hand the work off, do not block. */
  poll(result: PollResult): void;
  /** A request failed (before any retry decision). */
  failure?(deviceId: string, failure: ModbusFailure): void;
}

interface GroupState {
  cfg: TagGroupConfig;
  requests: ReadRequest[];
  nextDueMs: number;
  /** A poll of this group is queued or running. */
  pending: boolean;
}

interface Job {
  group: GroupState;
  startedMs?: number;
  /** Index of the request to send next. */
  next: number;
  /** Tries of requests[next] so far that failed. */
  failedTries: number;
  results: (Buffer | undefined)[];
  failedRequests: number;
}

interface DeviceState {
  cfg: DeviceConfig;
  groups: GroupState[];
  queue: Job[];
  /** Consecutive polls lost to silence; sets the backoff. */
  deadPolls: number;
  backoffUntilMs: number;
  answered: boolean;
  stats: DeviceStats;
}

/** One manual request waiting for the line: a read (scan, test read) or a write (a command). */
type ManualRequest = {
  unitId: number;
  timeoutMs: number;
  reject: (err: Error) => void;
} & (
  | { kind: 'read'; fn: ReadFunction; address: number; count: number; resolve: (data: Buffer) => void }
  | { kind: 'write'; req: WriteRequest; resolve: () => void }
);

/** Longest idle sleep, so a stop or a clock jump is noticed promptly. */
const MAX_IDLE_MS = 1_000;

/**
 * Manual requests allowed to wait at once on one bus. A scan keeps one waiting at a time; more than
 * this means callers are hammering the bus, and each waiting request costs the polls up to a timeout.
 */
export const MAX_MANUAL_QUEUE = 16;

/**
 * Waits until `gapMs` have passed since `lastFrameEnd` (clock.monotonic() time): the RTU silent
 * interval t3.5 between the end of one frame and the next request [SERIAL §2.5.1.1].
 */
export async function keepSilence(lastFrameEnd: number, gapMs: number, clock: BusClock = realClock): Promise<void> {
  if (gapMs <= 0) return;
  const until = lastFrameEnd + gapMs;
  // Timers run on a millisecond clock and can fire up to 1 ms early by this one: check again.
  for (let wait = until - clock.monotonic(); wait > 0; wait = until - clock.monotonic()) {
    await clock.sleep(Math.ceil(wait));
  }
}

export class Bus {
  private readonly devices: DeviceState[];
  private readonly gapMs: number;
  private rr = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private lastFrameEnd = -Infinity;
  private reconnectMs: number;
  private manual: ManualRequest[] = [];
  private readonly stats: Omit<BusStats, 'devices' | 'connected'>;

  constructor(
    readonly cfg: BusConfig,
    private readonly transport: Transport,
    private readonly events: BusEvents,
    private readonly log: Logger,
    private readonly clock: BusClock = realClock,
  ) {
    this.gapMs = cfg.type === 'rtu' ? cfg.interFrameDelayMs : 0;
    this.reconnectMs = cfg.reconnectMinMs;
    this.stats = { name: cfg.name, type: cfg.type, connects: 0, connectErrors: 0, requests: 0, manualRequests: 0, itemsRead: 0, interFrameDelayMs: this.gapMs, lastError: null };
    this.devices = cfg.devices.map((d) => ({
      cfg: d,
      groups: d.tagGroups.map((g) => ({ cfg: g, requests: planRequests(g.tags, d), nextDueMs: 0, pending: false })),
      queue: [],
      deadPolls: 0,
      backoffUntilMs: 0,
      answered: false,
      stats: {
        deviceId: d.deviceId,
        unitId: d.unitId,
        state: 'unknown',
        ok: 0,
        timeout: 0,
        crcError: 0,
        exception: {},
        protocolError: 0,
        retries: 0,
        polls: { complete: 0, partial: 0, failed: 0, skipped: 0, missed: 0 },
        backoffUntilMs: null,
        lastOkMs: null,
        lastError: null,
      },
    }));
    transport.onError = (err) => this.noteBusError(err);
  }

  /** The read requests each group's poll sends, for the status page and tests. */
  plan(): { deviceId: string; group: string; requests: ReadRequest[] }[] {
    return this.devices.flatMap((d) => d.groups.map((g) => ({ deviceId: d.cfg.deviceId, group: g.cfg.name, requests: g.requests })));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    const now = this.clock.now();
    for (const d of this.devices) for (const g of d.groups) g.nextDueMs = now;
    this.loop = this.run().catch((err: unknown) => {
      // Nothing in run() is expected to throw; if it does, say so loudly and leave the bus down.
      this.running = false;
      this.log.error({ bus: this.cfg.name, err: (err as Error).message }, 'modbus bus loop failed');
    });
  }

  /**
   * Stops polling: waits for the request in flight (at most one timeout), rejects the manual requests
   * still waiting, then closes the line.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.loop;
    this.failManual(`bus ${this.cfg.name} stopped`);
    await this.transport.close();
  }

  /**
   * One read outside the poll plan (a scan or a test read), sent by the loop between device turns so
   * it never interleaves with a poll; on RTU it keeps the silent interval like any request. Resolves
   * with the data bytes (as Transport.read); rejects with a ModbusFailure: 'connection' at once when
   * the bus is not running or its line is not open, or with the read's own failure. It is not
   * retried and not counted against any device: a unit that does not answer a scan is no fault.
   * Rejects with GatewayError FL_ERR_MODBUS_BUSY when MAX_MANUAL_QUEUE requests already wait.
   */
  request(unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer> {
    const invalid = checkRead(fn, address, count) ?? (Number.isInteger(unitId) && unitId >= 0 && unitId <= 255 ? undefined : `unit id ${unitId} is not 0-255`);
    if (invalid) return Promise.reject(new RangeError(invalid));
    if (!this.running) return Promise.reject(new ModbusFailure('connection', `bus ${this.cfg.name} is not running`));
    if (!this.transport.isOpen) return Promise.reject(new ModbusFailure('connection', `bus ${this.cfg.name} is not connected`));
    if (this.manual.length >= MAX_MANUAL_QUEUE) {
      return Promise.reject(new GatewayError('FL_ERR_MODBUS_BUSY', `${this.manual.length} manual requests already wait on bus ${this.cfg.name}`));
    }
    return new Promise<Buffer>((resolve, reject) => {
      this.manual.push({ kind: 'read', unitId, fn, address, count, timeoutMs, resolve, reject });
      this.wake?.();
    });
  }

  /**
   * One write (a command), through the same queue as manual reads, so it never interleaves with a
   * poll and keeps the RTU silent interval. Never retried: a write whose response was lost may
   * have been carried out, and a command is done at most once. Rejects like request().
   */
  write(unitId: number, req: WriteRequest, timeoutMs: number): Promise<void> {
    if (!this.running) return Promise.reject(new ModbusFailure('connection', `bus ${this.cfg.name} is not running`));
    if (!this.transport.isOpen) return Promise.reject(new ModbusFailure('connection', `bus ${this.cfg.name} is not connected`));
    if (this.manual.length >= MAX_MANUAL_QUEUE) {
      return Promise.reject(new GatewayError('FL_ERR_MODBUS_BUSY', `${this.manual.length} manual requests already wait on bus ${this.cfg.name}`));
    }
    return new Promise<void>((resolve, reject) => {
      this.manual.push({ kind: 'write', unitId, req, timeoutMs, resolve, reject });
      this.wake?.();
    });
  }

  get connected(): boolean {
    return this.transport.isOpen;
  }

  snapshot(): BusStats {
    const now = this.clock.now();
    return {
      ...this.stats,
      connected: this.transport.isOpen,
      devices: this.devices.map((d) => ({
        ...d.stats,
        exception: { ...d.stats.exception },
        polls: { ...d.stats.polls },
        state: d.backoffUntilMs > now ? 'backoff' : d.answered ? 'up' : d.deadPolls > 0 ? 'down' : 'unknown',
        backoffUntilMs: d.backoffUntilMs > now ? d.backoffUntilMs : null,
      })),
    };
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (!this.transport.isOpen) {
        // Nobody should wait out a reconnect backoff for a manual read: say so now.
        this.failManual(`bus ${this.cfg.name} is not connected`);
        await this.connect();
        continue;
      }
      const now = this.clock.now();
      this.queueDuePolls(now);
      const next = this.nextTurn();
      if (next === 'manual') await this.serveManual(this.manual.shift() as ManualRequest);
      else if (next) await this.turn(next);
      else await this.idle(this.nextDueMs() - this.clock.now());
    }
  }

  private async serveManual(req: ManualRequest): Promise<void> {
    await this.interFrameGap();
    let data: Buffer | undefined;
    let failure: ModbusFailure | undefined;
    try {
      if (req.kind === 'read') data = await this.transport.read(req.unitId, req.fn, req.address, req.count, req.timeoutMs);
      else await this.transport.write(req.unitId, req.req, req.timeoutMs);
    } catch (err) {
      failure = classify(err);
    }
    this.lastFrameEnd = this.clock.monotonic();
    this.stats.requests++;
    this.stats.manualRequests++;
    if (!failure) {
      if (req.kind === 'write') return req.resolve();
      this.stats.itemsRead += req.count;
      req.resolve(data as Buffer);
      return;
    }
    const f = failure as ModbusFailure;
    if (f.kind === 'connection') {
      this.stats.connectErrors++;
      this.noteBusError(f);
      await this.transport.close();
    }
    req.reject(f);
  }

  private failManual(reason: string): void {
    const waiting = this.manual;
    this.manual = [];
    for (const req of waiting) req.reject(new ModbusFailure('connection', reason));
  }

  private async connect(): Promise<void> {
    try {
      await this.transport.open();
      this.stats.connects++;
      this.reconnectMs = this.cfg.reconnectMinMs;
      this.lastFrameEnd = -Infinity;
      this.log.info({ bus: this.cfg.name }, 'modbus bus open');
    } catch (err) {
      const failure = classify(err);
      this.stats.connectErrors++;
      this.stats.lastError = { atMs: this.clock.now(), kind: 'connection', code: failure.code, message: failure.message };
      this.log.warn({ bus: this.cfg.name, err: failure.message, retryInMs: this.reconnectMs }, 'modbus bus cannot open');
      await this.idle(this.reconnectMs);
      this.reconnectMs = Math.min(this.cfg.reconnectMaxMs, this.reconnectMs * 2);
    }
  }

  private noteBusError(err: ModbusFailure): void {
    this.stats.lastError = { atMs: this.clock.now(), kind: err.kind, code: err.code, message: err.message };
    this.log.warn({ bus: this.cfg.name, err: err.message }, 'modbus bus error');
  }

  /** Turns every group whose time has come into a queued poll. */
  private queueDuePolls(now: number): void {
    for (const device of this.devices) {
      for (const group of device.groups) {
        if (group.nextDueMs > now) continue;
        const interval = group.cfg.pollIntervalMs;
        // Keep the polls on their grid (due, due + interval, …); slots that passed are counted.
        const slots = Math.floor((now - group.nextDueMs) / interval) + 1;
        group.nextDueMs += slots * interval;
        if (device.backoffUntilMs > now) {
          device.stats.polls.skipped += slots;
          continue;
        }
        if (group.pending) {
          device.stats.polls.missed += slots;
          continue;
        }
        device.stats.polls.missed += slots - 1;
        group.pending = true;
        device.queue.push({ group, next: 0, failedTries: 0, results: [], failedRequests: 0 });
      }
    }
  }

  /** Round-robin over the devices with work and, in the last place of the round, the manual queue. */
  private nextTurn(): DeviceState | 'manual' | undefined {
    const n = this.devices.length + 1;
    for (let i = 0; i < n; i++) {
      const index = (this.rr + i) % n;
      const device = this.devices[index];
      const due = device ? device.queue.length > 0 : this.manual.length > 0;
      if (due) {
        this.rr = (index + 1) % n;
        return device ?? 'manual';
      }
    }
    return undefined;
  }

  private nextDueMs(): number {
    let next = Infinity;
    for (const d of this.devices) for (const g of d.groups) if (g.nextDueMs < next) next = g.nextDueMs;
    return next;
  }

  private async idle(ms: number): Promise<void> {
    const wait = Math.max(0, Math.min(ms, MAX_IDLE_MS));
    if (!this.running) return;
    const woken = new AbortController();
    this.wake = () => woken.abort();
    await this.clock.sleep(wait, woken.signal);
    this.wake = undefined;
  }

  /** Keeps the RTU silent interval t3.5 between the end of one frame and the next request [SERIAL §2.5.1.1]. */
  private async interFrameGap(): Promise<void> {
    await keepSilence(this.lastFrameEnd, this.gapMs, this.clock);
  }

  /** One device's turn: its oldest poll's requests until the poll is done or a request goes unanswered. */
  private async turn(device: DeviceState): Promise<void> {
    const job = device.queue[0];
    if (!job) return;
    const { cfg } = device;
    const requests = job.group.requests;
    // Checking `running` keeps stop() to at most the request in flight.
    while (job.next < requests.length && this.running) {
      const req = requests[job.next] as ReadRequest;
      await this.interFrameGap();
      job.startedMs ??= this.clock.now();
      let data: Buffer | undefined;
      let failure: ModbusFailure | undefined;
      try {
        data = await this.transport.read(cfg.unitId, req.fn, req.address, req.count, cfg.timeoutMs);
      } catch (err) {
        failure = classify(err);
      }
      this.lastFrameEnd = this.clock.monotonic();
      this.stats.requests++;
      if (data) {
        this.stats.itemsRead += req.count;
        device.stats.ok++;
        this.answered(device);
        job.results[job.next] = data;
        job.next++;
        job.failedTries = 0;
        continue;
      }
      const f = failure as ModbusFailure;
      if (f.kind === 'connection') {
        // The line is gone, not the device: the same try runs again once the bus reopens.
        this.stats.connectErrors++;
        this.events.failure?.(device.cfg.deviceId, f);
        this.noteBusError(f);
        await this.transport.close();
        return;
      }
      this.count(device, f);
      const handling = f.kind === 'exception' ? exceptionHandling(f.exceptionCode ?? 0) : 'retry';
      // An exception response proves the device is there, unless a gateway sent it on behalf of a
      // target that did not answer (codes 10, 11).
      if (f.kind === 'exception' && handling !== 'dead') this.answered(device);
      if (handling !== 'final' && job.failedTries < cfg.retries) {
        job.failedTries++;
        device.stats.retries++;
        return; // the retry waits for this device's next turn
      }
      job.results[job.next] = undefined;
      job.failedRequests++;
      job.next++;
      job.failedTries = 0;
      if (f.kind === 'timeout' || handling === 'dead') {
        this.backOff(device, f);
        return;
      }
      if (handling !== 'final') break; // CRC or malformed after every try: the turn ends here
    }
    if (job.next >= requests.length) this.finish(device, job);
  }

  private count(device: DeviceState, f: ModbusFailure): void {
    this.events.failure?.(device.cfg.deviceId, f);
    const s = device.stats;
    if (f.kind === 'timeout') s.timeout++;
    else if (f.kind === 'crc') s.crcError++;
    else if (f.kind === 'exception') {
      const code = String(f.exceptionCode ?? 0);
      s.exception[code] = (s.exception[code] ?? 0) + 1;
    } else s.protocolError++;
    const changed = s.lastError?.message !== f.message;
    s.lastError = { atMs: this.clock.now(), kind: f.kind, code: f.code, message: f.message, ...(f.exceptionCode === undefined ? {} : { exceptionCode: f.exceptionCode }) };
    if (changed) {
      const detail = f.kind === 'exception' ? exceptionName(f.exceptionCode ?? 0) : f.message;
      this.log.warn({ bus: this.cfg.name, deviceId: device.cfg.deviceId, unitId: device.cfg.unitId, kind: f.kind, err: detail }, 'modbus request failed');
    }
  }

  private answered(device: DeviceState): void {
    if (device.deadPolls > 0) this.log.info({ bus: this.cfg.name, deviceId: device.cfg.deviceId }, 'modbus device answers again');
    device.answered = true;
    device.deadPolls = 0;
    device.backoffUntilMs = 0;
    device.stats.lastOkMs = this.clock.now();
  }

  /** Every try of a request went unanswered: drop this device's queued polls and leave it alone for a while. */
  private backOff(device: DeviceState, f: ModbusFailure): void {
    const { initialMs, maxMs, multiplier } = device.cfg.backoff;
    device.deadPolls++;
    device.answered = false;
    const waitMs = Math.min(maxMs, Math.round(initialMs * multiplier ** (device.deadPolls - 1)));
    device.backoffUntilMs = this.clock.now() + waitMs;
    this.log.warn({ bus: this.cfg.name, deviceId: device.cfg.deviceId, unitId: device.cfg.unitId, err: f.message, backoffMs: waitMs }, 'modbus device not answering; backing off');
    const [current, ...rest] = device.queue;
    if (current) this.finish(device, current);
    for (const job of rest) {
      job.group.pending = false;
      device.stats.polls.skipped++;
    }
    device.queue = [];
  }

  private finish(device: DeviceState, job: Job): void {
    device.queue = device.queue.filter((j) => j !== job);
    job.group.pending = false;
    const metrics: Record<string, number> = {};
    const raw: Buffer[] = [];
    let decoded = 0;
    job.group.requests.forEach((req, i) => {
      const data = job.results[i];
      if (!data) return;
      raw.push(data);
      for (const { tag, item } of req.tags) {
        try {
          metrics[tag.metric] = decodeTag(data, item, tag);
          decoded++;
        } catch (err) {
          this.log.warn({ deviceId: device.cfg.deviceId, metric: tag.metric, err: (err as Error).message }, 'modbus value not decodable');
        }
      }
    });
    const polls = device.stats.polls;
    if (decoded === 0) {
      polls.failed++;
      return;
    }
    if (job.failedRequests > 0 || decoded < job.group.cfg.tags.length) polls.partial++;
    else polls.complete++;
    this.events.poll({
      bus: this.cfg.name,
      device: device.cfg,
      group: job.group.cfg,
      tsMs: job.startedMs ?? this.clock.now(),
      doneMs: this.clock.now(),
      metrics,
      raw: Buffer.concat(raw),
      requests: job.group.requests.length,
      failedRequests: job.failedRequests,
    });
  }
}
