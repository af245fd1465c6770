// The commissioning page's Modbus back end against real pymodbus slaves: a Modbus/TCP one, and an RTU
// one at 19200 baud on a serial line that carries bytes only when both ends run at one rate
// (devstack/baud_pty.py). A fresh gateway with Modbus off scans ad-hoc lines as background jobs whose
// progress and found list grow while a client polls, finds the RTU slave only at its own rate, and
// test-reads a known float32 decoded in every type and order; a gateway with buses scans through a
// bus's loop, refuses a second scan of the same line and an ad-hoc scan of a port a bus owns, and
// cancels a scan between units. The CLI's scan, run under a real pty, draws a moving progress bar.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { ScanJobView } from '../../gateway/src/api/scan-jobs.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';
import { Gateway } from '../../gateway/src/gateway.js';
import type { Decoding } from '../../gateway/src/ingest/modbus/conversions.js';
import { freePort, repoRoot, run } from '../../devstack/net.js';
import { startPymodbusTcpSlave, type PymodbusTcpSlave } from '../../devstack/pymodbus.js';
import { startBaudPtyPair } from './baud-line.js';
import { scratchDir, silentLog, startModbusGateway, startPtyPair, startPymodbusSlave, watchUnhandledRejections, type PtyPair, type PySlave } from './support.js';

const CLI = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const TOKEN = 'commissioning-scans-token-0123456789';
const VOLTAGE = 231.5;
const FLOW = -12.375;
const SLAVE_BAUD = 19200;
// Probes of units that must be found wait 300 ms: a pymodbus slave on a loaded two-core machine has
// been seen to take over 100 ms to answer.

const unhandled = watchUnhandledRejections();
const scratch = scratchDir('commissioning-scans');
let tcpSlave: PymodbusTcpSlave;
let rtuLine: Awaited<ReturnType<typeof startBaudPtyPair>>;
let rtuSlave: PySlave;
let ownedLine: PtyPair;
const gateways: Gateway[] = [];

type Json = Record<string, any>;

function client(gw: Gateway) {
  const base = `http://127.0.0.1:${gw.apiPort}`;
  const call = async (method: string, path: string, body?: unknown): Promise<{ status: number; json: Json }> => {
    const headers: Record<string, string> = { authorization: `Bearer ${TOKEN}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(`${base}${path}`, { method, headers, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    return { status: res.status, json: (await res.json()) as Json };
  };
  return {
    post: (path: string, body: unknown) => call('POST', path, body),
    get: (path: string) => call('GET', path),
    del: (path: string) => call('DELETE', path),
    /** Polls the job until it has finished; every view seen on the way, last one finished. */
    async follow(id: string, timeoutMs = 30_000): Promise<ScanJobView[]> {
      const seen: ScanJobView[] = [];
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const res = await call('GET', `/modbus/scans/${id}`);
        assert.equal(res.status, 200, JSON.stringify(res.json));
        seen.push(res.json as ScanJobView);
        if (res.json.state !== 'running') return seen;
        if (Date.now() > deadline) assert.fail(`scan ${id} still running after ${timeoutMs} ms: ${JSON.stringify(res.json.progress)}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
  };
}

async function freshGateway(): Promise<Gateway> {
  const gw = new Gateway(
    gatewayConfigSchema.parse({
      gatewayId: 'gw-fresh',
      dataDir: join(scratch.dir, 'fresh'),
      logLevel: 'silent',
      mqtt: { enabled: false },
      coap: { enabled: false },
      kafka: { brokers: `127.0.0.1:${await freePort()}` },
      api: { host: '127.0.0.1', port: 0, adminToken: TOKEN },
    }),
    silentLog,
  );
  gateways.push(gw);
  await gw.start();
  return gw;
}

before(async () => {
  tcpSlave = await startPymodbusTcpSlave('commissioning-scans-tcp', {
    1: { values: [{ table: 'holding', address: 0, type: 'float32', order: 'ABCD', value: VOLTAGE }] },
    2: { fault: { exception: 2 } },
  });
  rtuLine = await startBaudPtyPair(scratch.dir);
  rtuSlave = await startPymodbusSlave(scratch.dir, 'commissioning-scans-rtu', {
    transport: 'rtu',
    device: rtuLine.b,
    baudrate: SLAVE_BAUD,
    units: { 5: { values: [{ table: 'holding', address: 0, type: 'float32', order: 'CDAB', value: FLOW }] } },
  });
  ownedLine = await startPtyPair(scratch.dir, 'owned');
});

after(async () => {
  for (const gw of gateways) await gw.stop();
  await rtuSlave?.stop();
  await rtuLine?.stop();
  await ownedLine?.stop();
  await tcpSlave?.stop();
  scratch.remove();
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

describe('Modbus commissioning back end on a fresh gateway (Modbus off, no bus)', () => {
  test('an ad-hoc TCP scan job answers 202, its progress and found list grow while polled, and it ends done with the units that answered', async () => {
    const api = client(await freshGateway());
    const res = await api.post('/modbus/scans', { tcp: { host: '127.0.0.1', port: tcpSlave.port }, units: '1-8', timeoutMs: 300 });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    assert.deepEqual(Object.keys(res.json), ['id']);
    const views = await api.follow(res.json.id as string);
    const last = views.at(-1)!;
    assert.equal(last.state, 'done', JSON.stringify(last));
    assert.deepEqual(last.line, { tcp: { host: '127.0.0.1', port: tcpSlave.port } });
    assert.deepEqual(last.found.map((f) => [f.port, f.baudRate, f.unitId, f.answer, f.exception ?? null]), [
      [`tcp:127.0.0.1:${tcpSlave.port}`, null, 1, 'data', null],
      [`tcp:127.0.0.1:${tcpSlave.port}`, null, 2, 'exception', 'illegal data address'],
    ]);
    assert.deepEqual(last.progress, { probed: 8, total: 8, percent: 100, etaMs: 0, current: null });
    assert.ok(last.finishedAt && last.startedAt <= last.finishedAt);
    const midway = views.filter((v) => v.state === 'running' && v.progress.probed > 0 && v.progress.probed < 8);
    assert.ok(midway.length >= 2, `saw ${midway.length} running views with some units probed`);
    assert.ok(midway.every((v) => typeof v.progress.etaMs === 'number' && v.progress.current !== null && v.progress.percent < 100));
    assert.ok(new Set(midway.map((v) => v.progress.probed)).size >= 2, 'progress moved between polls');
    assert.ok(midway.some((v) => v.found.length === 2 && v.progress.probed < 8), 'found shows units before the scan ends');
  });

  test('an ad-hoc RTU scan across 9600 and 19200 baud finds the slave only at 19200, its own rate', async () => {
    const api = client(gateways[0]!);
    const droppedBefore = rtuLine.dropped();
    const res = await api.post('/modbus/scans', { rtu: { path: rtuLine.a, baudRates: [9600, SLAVE_BAUD], parity: 'none' }, units: [4, 5, 6], timeoutMs: 300 });
    assert.equal(res.status, 202, JSON.stringify(res.json));
    const views = await api.follow(res.json.id as string);
    const last = views.at(-1)!;
    assert.equal(last.state, 'done', JSON.stringify(last));
    assert.deepEqual(last.found.map((f) => [f.port, f.baudRate, f.unitId, f.answer]), [[rtuLine.a, SLAVE_BAUD, 5, 'data']]);
    assert.deepEqual(last.garbled, []);
    assert.equal(last.progress.total, 6);
    assert.ok(rtuLine.dropped() > droppedBefore, 'the line dropped the requests sent at 9600');
    assert.ok(views.some((v) => v.progress.current?.baudRate === 9600) || views.some((v) => v.progress.current?.baudRate === SLAVE_BAUD), 'current names the baud rate');
  });

  test('a test read with decode "all" on an ad-hoc TCP line shows the known float32 under ABCD only, beside every other type', async () => {
    const api = client(gateways[0]!);
    const res = await api.post('/modbus/read', { tcp: { host: '127.0.0.1', port: tcpSlave.port }, unit: 1, address: 0, decode: 'all' });
    assert.equal(res.status, 200, JSON.stringify(res.json));
    assert.equal(res.json.count, 2);
    const decodings = res.json.decodings as Decoding[];
    assert.deepEqual(decodings.filter((d) => d.type === 'float32').map((d) => d.byteOrder), ['ABCD', 'CDAB', 'BADC', 'DCBA']);
    assert.deepEqual(decodings.filter((d) => d.value === VOLTAGE).map((d) => `${d.type} ${d.byteOrder}`), ['float32 ABCD']);
    assert.ok(decodings.some((d) => d.type === 'int16' && d.byteOrder === 'BADC'));
    assert.ok(!decodings.some((d) => d.type === 'float64'), 'two registers hold no float64');
    const rtu = await api.post('/modbus/read', { rtu: { path: rtuLine.a, baudRate: SLAVE_BAUD, parity: 'none' }, unit: 5, address: 0, count: 2, decode: 'all', scale: 2 });
    assert.equal(rtu.status, 200, JSON.stringify(rtu.json));
    assert.equal((rtu.json.decodings as Decoding[]).find((d) => d.type === 'float32' && d.byteOrder === 'CDAB')?.value, FLOW * 2);
  });

  test('templates and ports are served with Modbus off; bad bodies are refused naming the field', async () => {
    const api = client(gateways[0]!);
    const list = await api.get('/modbus/templates');
    assert.equal(list.status, 200);
    const meter = (list.json.templates as Json[]).find((t) => t.id === 'eastron-sdm630');
    assert.deepEqual(meter && { tagCount: meter.tagCount, manufacturer: meter.manufacturer, model: meter.model }, { tagCount: 14, manufacturer: 'Eastron', model: 'SDM630' });
    const one = await api.get('/modbus/templates/th-transmitter');
    assert.equal(one.status, 200);
    assert.equal(one.json.tagGroups[0].tags[0].metric, 'temperature');
    assert.equal((await api.get('/modbus/templates/nope')).status, 404);

    const ports = await api.get(`/modbus/ports?path=${encodeURIComponent(rtuLine.a)}&path=/dev/ttyNOPE9`);
    assert.equal(ports.status, 200);
    const byPath = new Map((ports.json.ports as Json[]).map((p) => [p.path, p]));
    assert.deepEqual(byPath.get(rtuLine.a), { path: rtuLine.a, present: true, sources: ['typed'], ownedBy: null, manufacturer: null, serialNumber: null, vendorId: null, productId: null });
    assert.equal(byPath.get('/dev/ttyNOPE9')?.present, false);

    const none = await api.post('/modbus/scans', { units: '1-3' });
    assert.equal(none.status, 400);
    assert.match(none.json.error.message, /expected the line: "bus"/);
    const badRate = await api.post('/modbus/scans', { rtu: { path: rtuLine.a, baudRates: [12] } });
    assert.equal(badRate.status, 400);
    assert.match(badRate.json.error.message, /rtu\.baudRates\.0: .*300/);
    const unit0 = await api.post('/modbus/scans', { rtu: { path: rtuLine.a }, units: [0] });
    assert.equal(unit0.status, 400);
    assert.match(unit0.json.error.message, /units: unit 0 is not a serial slave address/);
    const noBus = await api.post('/modbus/scans', { bus: 'plant' });
    assert.equal(noBus.status, 503);
    assert.equal(noBus.json.error.code, 'FL_ERR_MODBUS_DISABLED');
    assert.equal((await api.get('/modbus/scans/unknown-id')).status, 404);
  });
});

describe('Modbus commissioning back end on a gateway with buses', () => {
  test('a bus scan goes through the bus loop; a second scan of the line is 409; DELETE cancels between units; an owned port is refused for ad-hoc use', async () => {
    const gw = await startModbusGateway({
      gatewayId: 'gw-buses',
      dataDir: join(scratch.dir, 'buses'),
      token: TOKEN,
      buses: [
        { name: 'plant', type: 'tcp', host: '127.0.0.1', port: tcpSlave.port, devices: [{ deviceId: 'meter', unitId: 1, tagGroups: [{ pollIntervalMs: 100, tags: [{ metric: 'voltage', function: 3, address: 0, type: 'float32' }] }] }] },
        { name: 'owned', type: 'rtu', path: ownedLine.a, baudRate: 19200, parity: 'none', devices: [{ deviceId: 'nobody', unitId: 9, tagGroups: [{ pollIntervalMs: 5000, tags: [{ metric: 'x', function: 3, address: 0 }] }] }] },
      ],
    });
    gateways.push(gw);
    const api = client(gw);
    const manualBefore = gw.modbus!.stats().buses[0]!.manualRequests;
    const quick = await api.post('/modbus/scans', { bus: 'plant', units: '1-4', timeoutMs: 300 });
    assert.equal(quick.status, 202, JSON.stringify(quick.json));
    const done = (await api.follow(quick.json.id as string)).at(-1)!;
    assert.equal(done.state, 'done', JSON.stringify(done));
    assert.deepEqual(done.found.map((f) => [f.port, f.baudRate, f.unitId, f.answer]), [['plant', null, 1, 'data'], ['plant', null, 2, 'exception']]);
    assert.equal(gw.modbus!.stats().buses[0]!.manualRequests - manualBefore, 4, 'the probes went through the bus loop');

    const long = await api.post('/modbus/scans', { bus: 'plant', units: '10-60', timeoutMs: 100 });
    assert.equal(long.status, 202);
    const second = await api.post('/modbus/scans', { bus: 'plant', units: '1' });
    assert.equal(second.status, 409);
    assert.equal(second.json.error.code, 'FL_ERR_MODBUS_SCAN_RUNNING');
    const id = long.json.id as string;
    await (async () => {
      for (;;) {
        const v = (await api.get(`/modbus/scans/${id}`)).json as ScanJobView;
        if (v.progress.probed >= 2) return;
        await new Promise((r) => setTimeout(r, 25));
      }
    })();
    const cancelled = await api.del(`/modbus/scans/${id}`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.json.state, 'cancelled', JSON.stringify(cancelled.json));
    assert.ok(cancelled.json.progress.probed < 51, `stopped after ${cancelled.json.progress.probed} of 51`);
    const probedThen = cancelled.json.progress.probed as number;
    const later = (await api.get(`/modbus/scans/${id}`)).json as ScanJobView;
    assert.equal(later.progress.probed, probedThen, 'nothing probed after the cancel');
    const listed = await api.get('/modbus/scans');
    assert.deepEqual((listed.json.scans as ScanJobView[]).map((s) => s.state), ['cancelled', 'done']);

    const owned = await api.post('/modbus/scans', { rtu: { path: ownedLine.a, baudRates: [19200] } });
    assert.equal(owned.status, 409);
    assert.equal(owned.json.error.code, 'FL_ERR_MODBUS_PORT_OWNED');
    assert.match(owned.json.error.message, /send \{"bus": "owned"\}/);
    const ownedRead = await api.post('/modbus/read', { rtu: { path: ownedLine.a }, unit: 1, address: 0 });
    assert.equal(ownedRead.status, 409);
    const ports = await api.get('/modbus/ports');
    assert.equal((ports.json.ports as Json[]).find((p) => p.path === ownedLine.a)?.ownedBy, 'owned');
  });
});

describe('fieldline-gateway modbus scan in a terminal', () => {
  test('under a pty the scan draws a progress bar whose percent moves, with an ETA, and lists the unit found at its baud rate', async () => {
    const cmd = [process.execPath, CLI, 'modbus', 'scan', '--rtu', rtuLine.a, '--baud', `9600,${SLAVE_BAUD}`, '--parity', 'none', '--units', '3-7', '--timeout', '300'].join(' ');
    const res = await run('script', ['-qfec', cmd, '/dev/null'], { timeoutMs: 60_000, env: { ...process.env, COLUMNS: '120', LINES: '40' } });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const screen = res.stdout;
    const percents = new Set([...screen.matchAll(/\] (\d+)% \| (\d+)\/10 units/g)].map((m) => Number(m[1])));
    assert.ok(percents.size >= 4, `percents drawn: ${[...percents].join(', ')}`);
    assert.ok(percents.has(100));
    assert.match(screen, /ETA \d+ s/);
    assert.match(screen, /found 1 \|/);
    assert.match(screen, new RegExp(`at ${SLAVE_BAUD} baud:\\r?\\nunit  answer[^\\n]*\\r?\\n {3}5  data`));
    const plain = await run(process.execPath, [CLI, 'modbus', 'scan', '--rtu', rtuLine.a, '--baud', String(SLAVE_BAUD), '--parity', 'none', '--units', '5', '--timeout', '1000', '--json']);
    assert.equal(plain.code, 0, plain.stderr);
    assert.doesNotMatch(plain.stderr, /%/, 'no bar when stderr is not a terminal');
    assert.deepEqual((JSON.parse(plain.stdout) as Json).units.map((u: Json) => u.unitId), [5]);
  });

  test('with --bus in a terminal the bar follows the gateway\'s scan job, and the table lists what the job found', async () => {
    const gw = gateways[1]!;
    const cmd = [process.execPath, CLI, 'modbus', 'scan', '--bus', 'plant', '--api', `http://127.0.0.1:${gw.apiPort}`, '--token', TOKEN, '--units', '1-6', '--timeout', '300'].join(' ');
    const res = await run('script', ['-qfec', cmd, '/dev/null'], { timeoutMs: 60_000, env: { ...process.env, COLUMNS: '120', LINES: '40' } });
    assert.equal(res.code, 0, res.stdout + res.stderr);
    const percents = new Set([...res.stdout.matchAll(/\] (\d+)% \| (\d+)\/6 units/g)].map((m) => Number(m[1])));
    assert.ok(percents.size >= 2 && percents.has(100), `percents drawn: ${[...percents].join(', ')}`);
    assert.match(res.stdout, /\r?\n {3}1  data/);
    assert.match(res.stdout, /\r?\n {3}2  exception 2 \(illegal data address\)/);
    assert.match(res.stdout, /2 of 6 unit ids answered \(1 with an exception\), 4 silent, 0 garbled/);
  });
});
