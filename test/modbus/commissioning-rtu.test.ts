// Commissioning over Modbus RTU on a socat pty pair against a pymodbus serial slave: the standalone
// CLI scans the line and decodes a float32 CDAB; once a gateway owns the port, the standalone CLI is
// refused and the scan and test read go through the gateway's local API, where they share the line
// with the polls without interleaving: the slave sees every request at least the silent interval
// after the previous one, and the polls count no timeout, CRC or malformed answer.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/src/gateway.js';
import type { ModbusBusStats } from '../../gateway/src/ingest/modbus/adapter.js';
import type { ScanResult, TestReadResult } from '../../gateway/src/ingest/modbus/tools.js';
import { repoRoot, run } from '../../devstack/net.js';
import { eventually, scratchDir, startPtyPair, startPymodbusSlave, watchUnhandledRejections, type PtyPair, type PySlave, startModbusGateway } from './support.js';

const CLI = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const TOKEN = 'commissioning-rtu-token-0123456789';
/** Far above t3.5 at 19200 baud (2 ms), so the slave's request times can show it. */
const GAP_MS = 12;
const FLOW = -12.375;

const unhandled = watchUnhandledRejections();
const scratch = scratchDir('commissioning-rtu');
let line: PtyPair;
let slave: PySlave;
let gw: Gateway | undefined;

/** A present slave answers a probe within this, also with another test file on the two cores. */
const SCAN_TIMEOUT_MS = 300;
const cli = (...args: string[]) => run(process.execPath, [CLI, 'modbus', ...args], { timeoutMs: 30_000 });
const serial = () => ['--rtu', line.a, '--baud', '19200', '--parity', 'none'];

before(async () => {
  line = await startPtyPair(scratch.dir);
  slave = await startPymodbusSlave(scratch.dir, 'commissioning-rtu', {
    transport: 'rtu',
    device: line.b,
    baudrate: 19200,
    units: {
      1: { values: [{ table: 'holding', address: 0, type: 'float32', order: 'CDAB', value: FLOW }] },
      2: { values: [{ table: 'holding', address: 0, registers: [11, 12] }] },
      3: { fault: { exception: 2 } },
      5: { fault: 'silent' },
    },
  });
});

after(async () => {
  await gw?.stop();
  await slave?.stop();
  await line?.stop();
  scratch.remove();
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

describe('Modbus commissioning over RTU', () => {
  test('standalone CLI on the serial port: the scan finds units 1, 2 and 3 (by its exception); the read decodes float32 CDAB', async () => {
    const scan = await cli('scan', ...serial(), '--units', '1-6', '--timeout', String(SCAN_TIMEOUT_MS), '--json');
    assert.equal(scan.code, 0, scan.stderr);
    const result = JSON.parse(scan.stdout) as ScanResult;
    assert.deepEqual(result.units.map((u) => [u.unitId, u.answer, u.exceptionCode ?? null]), [[1, 'data', null], [2, 'data', null], [3, 'exception', 2]]);
    assert.equal(result.silent, 3);
    assert.deepEqual(result.garbled, []);
    const read = await cli('read', ...serial(), '--unit', '1', '--address', '0', '--type', 'float32', '--order', 'CDAB');
    assert.equal(read.code, 0, read.stderr);
    assert.match(read.stdout, new RegExp(`float32 CDAB = ${FLOW.toString().replace('.', '\\.')}$`, 'm'));
  });

  test('with a gateway polling the line: the standalone CLI is refused, the API scan and read share the line without interleaving', async () => {
    gw = await startModbusGateway({
      gatewayId: 'gw-commissioning-rtu',
      dataDir: scratch.dir,
      token: TOKEN,
      buses: [{
        name: 'line', type: 'rtu', path: line.a, baudRate: 19200, parity: 'none', interFrameDelayMs: GAP_MS,
        devices: [
          { deviceId: 'flow', unitId: 1, tagGroups: [{ pollIntervalMs: 40, tags: [{ metric: 'flow', function: 3, address: 0, type: 'float32', byteOrder: 'CDAB' }] }] },
          { deviceId: 'pump', unitId: 2, tagGroups: [{ pollIntervalMs: 40, tags: [{ metric: 'a', function: 3, address: 0 }, { metric: 'b', function: 3, address: 1 }] }] },
        ],
      }],
    });
    const api = `http://127.0.0.1:${gw.apiPort}`;
    const bus = (): ModbusBusStats => gw!.modbus!.stats().buses[0]!;
    await eventually(() => bus().devices.every((d) => d.polls.complete >= 2), 'the gateway polling both units');

    const busy = await cli('scan', ...serial(), '--units', '1');
    assert.equal(busy.code, 1, busy.stderr);
    assert.match(busy.stderr, /is in use by another program \(a running gateway\?\); go through the gateway with --bus NAME/);

    const before = bus();
    const startedS = Date.now() / 1000;
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${api}${path}`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
      return { status: res.status, json: (await res.json()) as unknown };
    };
    // A scan and two reads at once, from two clients, while the polls go on.
    const [scan, flow, viaCli] = await Promise.all([
      post('/modbus/scan', { bus: 'line', units: '1-6', timeoutMs: SCAN_TIMEOUT_MS }),
      post('/modbus/read', { bus: 'line', unit: 1, address: 0, type: 'float32', byteOrder: 'CDAB' }),
      cli('read', '--bus', 'line', '--api', api, '--token', TOKEN, '--unit', '2', '--address', '0', '--count', '2', '--json'),
    ]);
    assert.equal(scan.status, 200, JSON.stringify(scan.json));
    assert.deepEqual((scan.json as ScanResult).units.map((u) => [u.unitId, u.answer, u.exceptionCode ?? null]), [[1, 'data', null], [2, 'data', null], [3, 'exception', 2]]);
    assert.equal(flow.status, 200, JSON.stringify(flow.json));
    assert.equal((flow.json as TestReadResult).decoded?.value, FLOW);
    assert.equal(viaCli.code, 0, viaCli.stderr);
    assert.deepEqual((JSON.parse(viaCli.stdout) as TestReadResult).registers, [11, 12]);
    const unit0 = await post('/modbus/read', { bus: 'line', unit: 0, address: 0 });
    assert.equal(unit0.status, 400, 'a serial bus has no unit 0 to read');

    const afterStats = bus();
    assert.equal(afterStats.manualRequests - before.manualRequests, 8);
    for (const [i, d] of afterStats.devices.entries()) {
      assert.ok(d.polls.complete >= before.devices[i]!.polls.complete + 4, `${d.deviceId}: polls ${before.devices[i]!.polls.complete} → ${d.polls.complete}`);
      assert.deepEqual({ timeout: d.timeout, crcError: d.crcError, protocolError: d.protocolError, retries: d.retries, partial: d.polls.partial, failed: d.polls.failed }, { timeout: 0, crcError: 0, protocolError: 0, retries: 0, partial: 0, failed: 0 }, `${d.deviceId} counted no error`);
    }
    // The slave's own log: every request of the window, polls and manual ones, came at least the gap
    // after the one before (two frames on the line at once would show as requests close together).
    const window = slave.requests().filter((r) => r.t >= startedS);
    assert.ok(window.filter((r) => r.unit >= 3).length >= 4, 'the scan reached the slave');
    const spacing = window.slice(1).map((r, i) => (r.t - window[i]!.t) * 1000);
    assert.ok(spacing.length >= 15, `only ${spacing.length + 1} requests in the window`);
    assert.ok(Math.min(...spacing) >= GAP_MS - 3, `two requests only ${Math.min(...spacing).toFixed(1)} ms apart`);
  });
});
