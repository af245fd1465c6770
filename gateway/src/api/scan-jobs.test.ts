// The scan job state machine against scripted reads and a hand-moved clock: progress and found grow
// while the job runs, the ETA is the mean time per unit so far times the units left, a cancel stops it
// between units, one running job per line, a failing line ends the job failed with the code, and only
// the last finished jobs are kept.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { FieldlineError } from '../errors.js';
import type { ReadFn } from '../ingest/modbus/tools.js';
import { ModbusFailure } from '../ingest/modbus/transport.js';
import { ScanJobs, estimateEtaMs, type ScanPass, type ScanProbe } from './scan-jobs.js';

const probe = (units: number[]): ScanProbe => ({ units, fn: 3, address: 0, count: 1, timeoutMs: 50 });

/** A read the test releases one unit at a time; `answers` maps unit → what it does (silent when unlisted). */
function gatedLine(answers: Record<number, 'data' | { exception: number } | 'crc' | 'connection'>) {
  const waiting: (() => void)[] = [];
  const probes: number[] = [];
  let opens = 0;
  let closes = 0;
  const read: ReadFn = async (unit) => {
    probes.push(unit);
    await new Promise<void>((release) => waiting.push(release));
    const a = answers[unit];
    if (a === 'data') return Buffer.from([0, 1]);
    if (a === 'crc') throw new ModbusFailure('crc', 'response failed its CRC check');
    if (a === 'connection') throw new ModbusFailure('connection', 'port not open');
    if (a) throw new ModbusFailure('exception', `exception ${a.exception}`, a.exception);
    throw new ModbusFailure('timeout', 'no response within the timeout');
  };
  const pass = (port: string, baudRate: number | null): ScanPass => ({
    port,
    baudRate,
    open: async () => {
      opens++;
      return { read, close: async () => void closes++ };
    },
  });
  return {
    pass,
    probes,
    counts: () => ({ opens, closes }),
    /** Lets the oldest waiting read answer, once one is waiting. */
    async step(): Promise<void> {
      while (waiting.length === 0) await new Promise((r) => setImmediate(r));
      (waiting.shift() as () => void)();
      await new Promise((r) => setImmediate(r));
    },
  };
}

describe('estimateEtaMs', () => {
  test('is null before the first unit, then the mean time per unit times the units left', () => {
    assert.equal(estimateEtaMs(500, 0, 10), null);
    assert.equal(estimateEtaMs(1000, 4, 10), 1500);
    assert.equal(estimateEtaMs(1000, 10, 10), 0);
    assert.equal(estimateEtaMs(333, 3, 4), 111);
  });
});

describe('ScanJobs', () => {
  test('a job over two baud rates reports progress, current unit, found and garbled as it goes, and an ETA from the injected clock', async () => {
    let now = 1_000_000;
    const jobs = new ScanJobs({ now: () => now });
    const line = gatedLine({ 2: 'data', 3: { exception: 2 }, 4: 'crc' });
    const first = jobs.start('rtu:/dev/x', { rtu: { path: '/dev/x' } }, [line.pass('/dev/x', 9600), line.pass('/dev/x', 19200)], probe([1, 2, 3, 4]));
    assert.equal(first.state, 'running');
    assert.deepEqual(first.progress, { probed: 0, total: 8, percent: 0, etaMs: null, current: null });
    assert.equal(first.startedAt, new Date(1_000_000).toISOString());
    assert.deepEqual(first.line, { rtu: { path: '/dev/x' } });

    now += 100;
    await line.step(); // unit 1 at 9600: silent
    now += 300;
    await line.step(); // unit 2 at 9600: data
    let v = jobs.get(first.id)!;
    assert.equal(v.progress.probed, 2);
    assert.equal(v.progress.percent, 25);
    assert.equal(v.progress.etaMs, 1200, '400 ms for 2 units, 6 left');
    assert.deepEqual(v.progress.current, { baudRate: 9600, unitId: 3 });
    assert.deepEqual(v.found.map((f) => [f.port, f.baudRate, f.unitId, f.answer]), [['/dev/x', 9600, 2, 'data']]);

    await line.step(); // 3: exception
    await line.step(); // 4: crc
    v = jobs.get(first.id)!;
    assert.deepEqual(v.found.map((f) => [f.unitId, f.answer, f.exception ?? null]), [[2, 'data', null], [3, 'exception', 'illegal data address']]);
    assert.deepEqual(v.garbled.map((g) => [g.baudRate, g.unitId, g.kind]), [[9600, 4, 'crc']]);
    for (let i = 0; i < 4; i++) await line.step();
    await jobs.settled(first.id);
    now += 50;
    v = jobs.get(first.id)!;
    assert.equal(v.state, 'done');
    assert.deepEqual(v.progress, { probed: 8, total: 8, percent: 100, etaMs: 0, current: null });
    assert.deepEqual(v.found.map((f) => [f.baudRate, f.unitId]), [[9600, 2], [9600, 3], [19200, 2], [19200, 3]]);
    assert.ok(v.finishedAt);
    assert.deepEqual(line.counts(), { opens: 2, closes: 2 }, 'each baud rate opened and closed the line once');
    assert.deepEqual(line.probes, [1, 2, 3, 4, 1, 2, 3, 4]);
  });

  test('cancel stops between units: the unit being probed finishes, no further unit is probed, the line is closed', async () => {
    const jobs = new ScanJobs();
    const line = gatedLine({ 1: 'data' });
    const job = jobs.start('tcp:h:502', {}, [line.pass('tcp:h:502', null)], probe([1, 2, 3, 4, 5]));
    await line.step();
    while (line.probes.length < 2) await new Promise((r) => setImmediate(r));
    assert.equal(jobs.cancel(job.id)?.state, 'running', 'still running until unit 2 has its answer');
    await line.step();
    await jobs.settled(job.id);
    const v = jobs.get(job.id)!;
    assert.equal(v.state, 'cancelled');
    assert.equal(v.progress.probed, 2);
    assert.equal(v.progress.etaMs, null);
    assert.deepEqual(line.probes, [1, 2]);
    assert.deepEqual(line.counts(), { opens: 1, closes: 1 });
  });

  test('a second job on a running line is refused with FL_ERR_MODBUS_SCAN_RUNNING; another line may run at once', async () => {
    const jobs = new ScanJobs();
    const a = gatedLine({});
    const b = gatedLine({});
    const first = jobs.start('bus:plant', {}, [a.pass('plant', null)], probe([1]));
    assert.throws(() => jobs.start('bus:plant', {}, [a.pass('plant', null)], probe([1])), (err: unknown) => err instanceof FieldlineError && err.code === 'FL_ERR_MODBUS_SCAN_RUNNING' && err.statusCode === 409 && err.message.includes(first.id));
    const other = jobs.start('tcp:h:502', {}, [b.pass('tcp:h:502', null)], probe([1]));
    await a.step();
    await b.step();
    await jobs.settled(first.id);
    await jobs.settled(other.id);
    const again = jobs.start('bus:plant', {}, [a.pass('plant', null)], probe([1]));
    await a.step();
    await jobs.settled(again.id);
    assert.equal(jobs.get(again.id)?.state, 'done');
  });

  test('a line that fails (port gone, or cannot open) ends the job failed with the catalogue code', async () => {
    const jobs = new ScanJobs();
    const line = gatedLine({ 2: 'connection' });
    const job = jobs.start('k', {}, [line.pass('p', null)], probe([1, 2, 3]));
    await line.step();
    await line.step();
    await jobs.settled(job.id);
    const v = jobs.get(job.id)!;
    assert.equal(v.state, 'failed');
    assert.equal(v.error?.code, 'FL_ERR_MODBUS_UNREACHABLE');
    assert.match(v.error?.message ?? '', /port not open/);
    assert.equal(v.progress.probed, 1);
    assert.deepEqual(line.counts(), { opens: 1, closes: 1 });

    const cannotOpen = jobs.start('k2', {}, [{ port: '/dev/none', baudRate: 9600, open: async () => { throw new ModbusFailure('connection', 'cannot open /dev/none'); } }], probe([1]));
    await jobs.settled(cannotOpen.id);
    assert.deepEqual(jobs.get(cannotOpen.id)?.error?.code, 'FL_ERR_MODBUS_UNREACHABLE');
  });

  test('only the last `keep` finished jobs are kept', async () => {
    const jobs = new ScanJobs({ keep: 2 });
    const ids: string[] = [];
    for (let i = 0; i < 4; i++) {
      const line = gatedLine({});
      const job = jobs.start('k', {}, [line.pass('p', null)], probe([1]));
      ids.push(job.id);
      await line.step();
      await jobs.settled(job.id);
    }
    assert.deepEqual(ids.map((id) => jobs.get(id)?.state ?? null), [null, null, 'done', 'done']);
    assert.deepEqual(jobs.list().map((j) => j.id), [ids[3], ids[2]]);
  });
});
