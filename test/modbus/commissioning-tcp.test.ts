// Commissioning over Modbus/TCP against the simulator's slave: the scan finds exactly the units that
// exist (one of them answering only with an exception), a test read decodes a float32 CDAB to what the
// slave holds; the same through a running gateway's local API while its bus keeps polling (the polls
// go on, nothing they count goes wrong), with the API's refusals; and the CLI, standalone and --bus.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { startModbusTcpSlave, type ModbusTcpSlave } from '../../firmware-sim/src/modbus-slave.js';
import { buildLocalApi } from '../../gateway/src/api/server.js';
import type { Gateway } from '../../gateway/src/gateway.js';
import type { ModbusStats } from '../../gateway/src/ingest/modbus/adapter.js';
import { scanUnits, testRead, transportReader, type ScanResult, type TestReadResult } from '../../gateway/src/ingest/modbus/tools.js';
import { TcpTransport } from '../../gateway/src/ingest/modbus/transport.js';
import { freePort, repoRoot, run } from '../../devstack/net.js';
import { scratchDir, watchUnhandledRejections, startModbusGateway } from './support.js';

const CLI = join(repoRoot(), 'dist', 'gateway', 'src', 'cli', 'main.js');
const TOKEN = 'commissioning-token-0123456789';
const VOLTAGE = 231.5;
/** Units 1, 2 and 4 exist; 4 answers every request with exception 4; 7 is configured but silent. */
const PRESENT = [1, 2, 4];

const unhandled = watchUnhandledRejections();
const scratch = scratchDir('commissioning-tcp');
let slave: ModbusTcpSlave;
let gw: Gateway;
let api: string;

/**
 * A present unit must answer a probe within this, also while another test file shares the two
 * cores (npm test runs two at a time): 80 ms lost unit 1 to a busy CPU now and then.
 */
const SCAN_TIMEOUT_MS = 300;
const cli = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, [CLI, 'modbus', ...args], { timeoutMs: 30_000, env: { ...process.env, ...env } });

async function post(path: string, body: unknown, token: string | null = TOKEN): Promise<{ status: number; json: any }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token !== null) headers.authorization = `Bearer ${token}`;
  const res = await fetch(`${api}${path}`, { method: 'POST', headers, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, json: await res.json() };
}

async function modbusStats(): Promise<ModbusStats> {
  const res = await fetch(`${api}/modbus`, { headers: { authorization: `Bearer ${TOKEN}` } });
  assert.equal(res.status, 200);
  return ((await res.json()) as { stats: ModbusStats }).stats;
}

before(async () => {
  slave = await startModbusTcpSlave({
    units: {
      1: { values: [{ table: 'holdingRegisters', address: 0, type: 'float32', byteOrder: 'CDAB', value: VOLTAGE }] },
      2: { holdingRegisters: { 0: 7, 1: 8 } },
      4: { fault: { kind: 'exception', code: 4 } },
      7: { fault: { kind: 'silent' } },
    },
  });
  gw = await startModbusGateway({
    gatewayId: 'gw-commissioning',
    dataDir: scratch.dir,
    token: TOKEN,
    buses: [
      {
        name: 'plant',
        type: 'tcp',
        host: '127.0.0.1',
        port: slave.port,
        devices: [
          { deviceId: 'meter', unitId: 1, tagGroups: [{ pollIntervalMs: 40, tags: [{ metric: 'voltage', function: 3, address: 0, type: 'float32', byteOrder: 'CDAB' }] }] },
          { deviceId: 'pump', unitId: 2, tagGroups: [{ pollIntervalMs: 40, tags: [{ metric: 'a', function: 3, address: 0 }, { metric: 'b', function: 3, address: 1 }] }] },
        ],
      },
      // Nothing listens there: the bus never connects.
      { name: 'down', type: 'tcp', host: '127.0.0.1', port: await freePort(), reconnectMinMs: 50, reconnectMaxMs: 100, devices: [{ deviceId: 'lost', tagGroups: [{ tags: [{ metric: 'x', function: 3, address: 0 }] }] }] },
    ],
  });
  api = `http://127.0.0.1:${gw.apiPort}`;
  const deadline = Date.now() + 10_000;
  while (!((await modbusStats()).buses[0]!.devices.every((d) => d.polls.complete > 0))) {
    if (Date.now() > deadline) assert.fail('the gateway never polled both devices');
    await new Promise((r) => setTimeout(r, 20));
  }
});

after(async () => {
  await gw?.stop();
  await slave?.stop();
  scratch.remove();
  unhandled.dispose();
  assert.deepEqual(unhandled.rejections, [], 'no unhandled promise rejection');
});

/** Everything the polls of the busy bus can count as going wrong. */
function pollTroubles(stats: ModbusStats): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of stats.buses[0]!.devices) {
    out[`${d.deviceId}.timeout`] = d.timeout;
    out[`${d.deviceId}.crcError`] = d.crcError;
    out[`${d.deviceId}.protocolError`] = d.protocolError;
    out[`${d.deviceId}.exceptions`] = Object.values(d.exception).reduce((a, b) => a + b, 0);
    out[`${d.deviceId}.partialOrFailed`] = d.polls.partial + d.polls.failed;
  }
  return out;
}
const zeros = (t: Record<string, number>) => Object.fromEntries(Object.keys(t).map((k) => [k, 0]));

describe('Modbus commissioning over TCP', () => {
  test('standalone: the scan finds exactly the units that exist, one by its exception; the test read decodes float32 CDAB', async () => {
    const transport = new TcpTransport('127.0.0.1', slave.port, 2_000);
    await transport.open();
    try {
      const read = transportReader(transport, 0);
      const scan = await scanUnits(read, { units: Array.from({ length: 10 }, (_, i) => i + 1), timeoutMs: SCAN_TIMEOUT_MS });
      assert.deepEqual(scan.units.map((u) => u.unitId), PRESENT);
      const { ms: _, ...four } = scan.units[2]!;
      assert.deepEqual(four, { unitId: 4, answer: 'exception', exceptionCode: 4, exception: 'server device failure' });
      assert.equal(scan.silent, 7);
      const value = await testRead(read, { unit: 1, address: 0, type: 'float32', byteOrder: 'CDAB' });
      assert.equal(value.decoded?.value, VOLTAGE);
      assert.deepEqual(value.registers, Array.from(slave.unit(1).holdingRegisters.subarray(0, 2)));
    } finally {
      await transport.close();
    }
  });

  test('API: scan and test read go through the polling bus; the polls go on and count nothing wrong', async () => {
    const before = await modbusStats();
    const polledBefore = before.buses[0]!.devices.map((d) => d.polls.complete);
    const scan = await post('/modbus/scan', { bus: 'plant', units: '1-10', timeoutMs: SCAN_TIMEOUT_MS });
    assert.equal(scan.status, 200, JSON.stringify(scan.json));
    const result = scan.json as ScanResult & { bus: string };
    assert.equal(result.bus, 'plant');
    assert.deepEqual(result.units.map((u) => [u.unitId, u.answer, u.exceptionCode ?? null]), [[1, 'data', null], [2, 'data', null], [4, 'exception', 4]]);
    assert.equal(result.silent, 7);
    const read = await post('/modbus/read', { bus: 'plant', unit: 1, address: 0, type: 'float32', byteOrder: 'CDAB' });
    assert.equal(read.status, 200, JSON.stringify(read.json));
    assert.equal((read.json as TestReadResult).decoded?.value, VOLTAGE);
    const scaled = await post('/modbus/read', { bus: 'plant', unit: 2, address: 0, count: 2, type: 'uint16', scale: 0.5, offset: 1 });
    assert.deepEqual(scaled.json.registers, [7, 8]);
    assert.deepEqual(scaled.json.decoded.values, [4.5, 5]);

    const after = await modbusStats();
    // The scan took 7 silent units × SCAN_TIMEOUT_MS; the polls every 40 ms went on meanwhile.
    after.buses[0]!.devices.forEach((d, i) => assert.ok(d.polls.complete >= polledBefore[i]! + 4, `${d.deviceId}: ${polledBefore[i]} → ${d.polls.complete} polls`));
    assert.deepEqual(pollTroubles(after), zeros(pollTroubles(after)), 'the manual requests caused no poll error');
    assert.equal(after.buses[0]!.manualRequests - before.buses[0]!.manualRequests, 12);
    // The slave saw the manual requests to its silent unit and to the one answering with exceptions.
    const recent = slave.requests.filter((r) => r.atMs >= Date.now() - 5_000);
    assert.ok(recent.some((r) => r.unit === 7) && recent.some((r) => r.unit === 4));
  });

  test('API: a read that gets no data answers with the Modbus code: 504 timeout, 502 exception with its number', async () => {
    const silent = await post('/modbus/read', { bus: 'plant', unit: 7, address: 0, timeoutMs: 80 });
    assert.equal(silent.status, 504);
    assert.equal(silent.json.error.code, 'FL_ERR_MODBUS_TIMEOUT');
    assert.match(silent.json.error.message, /unit 7, function 3, address 0, count 1: .*\(80 ms\)/);
    const failing = await post('/modbus/read', { bus: 'plant', unit: 4, address: 0 });
    assert.equal(failing.status, 502);
    assert.deepEqual(failing.json.error.code, 'FL_ERR_MODBUS_EXCEPTION');
    assert.equal(failing.json.error.exceptionCode, 4);
    assert.match(failing.json.error.message, /server device failure/);
  });

  test('API refusals: 400 naming the field, 404 listing the buses, 503 for a bus not connected or Modbus off, 401 without the token', async () => {
    const bad: [unknown, RegExp][] = [
      [{ bus: 'plant', unit: 300, address: 0 }, /unit: .*\(got 300\)/],
      [{ bus: 'plant', unit: 1, address: 0, type: 'float33' }, /type: .*\(got "float33"\)/],
      [{ bus: 'plant', unit: 1, address: 0, colour: 'red' }, /unknown key colour/],
      [{ unit: 1, address: 0 }, /bus: expected the name of a configured bus/],
      ['{"bus": "plant", ', /JSON/i],
    ];
    for (const [body, want] of bad) {
      const r = await post('/modbus/read', body);
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.json.error.code, 'FL_ERR_API_BAD_REQUEST');
      assert.match(r.json.error.message, want);
    }
    const units = await post('/modbus/scan', { bus: 'plant', units: '1-300' });
    assert.equal(units.status, 400);
    assert.match(units.json.error.message, /^the request is malformed: units: .*past 255/);

    const unknown = await post('/modbus/scan', { bus: 'nope' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error.code, 'FL_ERR_MODBUS_UNKNOWN_BUS');
    assert.match(unknown.json.error.message, /"nope"; configured: "plant", "down"/);

    const down = await post('/modbus/read', { bus: 'down', unit: 1, address: 0 });
    assert.equal(down.status, 503);
    assert.equal(down.json.error.code, 'FL_ERR_MODBUS_UNREACHABLE');

    for (const token of [null, 'wrong-token-wrong-token-wrong']) {
      const r = await post('/modbus/scan', { bus: 'plant', units: '1' }, token);
      assert.equal(r.status, 401);
      assert.equal(r.json.error.code, 'FL_ERR_API_UNAUTHORIZED');
    }
    assert.equal((await fetch(`${api}/modbus`)).status, 401);

    const off = buildLocalApi({ token: TOKEN, status: () => ({}), metrics: async () => '', quarantine: () => [], devices: () => [] });
    try {
      for (const [method, url] of [['POST', '/modbus/scan'], ['POST', '/modbus/read'], ['GET', '/modbus']] as const) {
        const r = await off.inject({ method, url, headers: { authorization: `Bearer ${TOKEN}` }, ...(method === 'POST' ? { payload: { bus: 'plant', unit: 1, address: 0 } } : {}) });
        assert.equal(r.statusCode, 503, url);
        assert.equal(r.json().error.code, 'FL_ERR_MODBUS_DISABLED');
      }
    } finally {
      await off.close();
    }
  });

  test('CLI --bus: through the running gateway, API address and token from the config file or the environment', async () => {
    const config = join(scratch.dir, 'cli.yaml');
    writeFileSync(config, `api:\n  host: 127.0.0.1\n  port: ${gw.apiPort}\n  adminToken: ${TOKEN}\n`);
    const [read, scan, silent, unknownBus, wrongToken] = await Promise.all([
      cli(['read', '--bus', 'plant', '--config', config, '--unit', '1', '--address', '0', '--type', 'float32', '--order', 'CDAB', '--json']),
      cli(['scan', '--bus', 'plant', '--units', '1-5', '--timeout', String(SCAN_TIMEOUT_MS)], { FIELDLINE_GATEWAY_API__PORT: String(gw.apiPort), FIELDLINE_GATEWAY_API__ADMIN_TOKEN: TOKEN }),
      cli(['read', '--bus', 'plant', '--api', api, '--token', TOKEN, '--unit', '7', '--address', '0', '--timeout', '80']),
      cli(['scan', '--bus', 'nope', '--api', api, '--token', TOKEN]),
      cli(['scan', '--bus', 'plant', '--api', api, '--token', 'not-the-token-at-all-0000', '--units', '1']),
    ]);
    assert.equal(read.code, 0, read.stderr);
    assert.equal((JSON.parse(read.stdout) as TestReadResult).decoded?.value, VOLTAGE);
    assert.equal(scan.code, 0, scan.stderr);
    assert.match(scan.stdout, /^\s+1\s+data\s/m);
    assert.match(scan.stdout, /^\s+4\s+exception 4 \(server device failure\)/m);
    assert.match(scan.stdout, /3 of 5 unit ids answered \(1 with an exception\), 2 silent/);
    assert.equal(silent.code, 1);
    assert.match(silent.stderr, /did not answer within its timeout: unit 7.*\[FL_ERR_MODBUS_TIMEOUT\]/);
    assert.equal(unknownBus.code, 2, 'an unknown bus is a bad argument');
    assert.match(unknownBus.stderr, /"nope"; configured: "plant", "down"/);
    assert.equal(wrongToken.code, 1);
    assert.match(wrongToken.stderr, /valid admin token is required/);
  });

  test('CLI standalone --tcp: table and --json; bad arguments exit 2 naming the option, with the usage', async () => {
    const [table, json, ...bad] = await Promise.all([
      cli(['read', '--tcp', `127.0.0.1:${slave.port}`, '--unit', '1', '--address', '0', '--count', '2', '--type', 'float32', '--order', 'CDAB']),
      // Ten CLIs start at once on a shared machine: an 80 ms timeout could lose a present unit to a
      // busy CPU. Only unit 3 is silent, so a generous timeout costs one second.
      cli(['scan', '--tcp', `127.0.0.1:${slave.port}`, '--units', '1,2,3,4', '--timeout', '1000', '--json']),
      cli(['scan']),
      cli(['read', '--tcp', '127.0.0.1:502', '--address', '0']),
      cli(['read', '--tcp', '127.0.0.1:502', '--unit', '1', '--address', '0', '--type', 'float33']),
      cli(['scan', '--tcp', '127.0.0.1:502', '--units', '1-300']),
      cli(['scan', '--tcp', '127.0.0.1:502', '--rtu', '/dev/null']),
      cli(['scan', '--tcp', '127.0.0.1:502', '--colour', 'red']),
      cli(['read', '--rtu', '/dev/null', '--unit', '0', '--address', '0']),
      cli(['wiggle', '--tcp', '127.0.0.1:502']),
    ]);
    assert.equal(table.code, 0, table.stderr);
    assert.match(table.stdout, /float32 CDAB = 231\.5/);
    assert.match(table.stdout, /^\s+1\s+0x[0-9a-f]{4}\s+\d+\s+-?\d+$/m);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual((JSON.parse(json.stdout) as ScanResult).units.map((u) => u.unitId), [1, 2, 4]);
    const wanted = [/say where to read/, /--unit: say which unit/, /--type: .*float33/, /--units: .*past 255/, /choose one of --tcp, --rtu/, /Unknown option '--colour'/, /--unit: unit 0 is not a serial slave address/, /unknown subcommand "wiggle"/];
    bad.forEach((r, i) => {
      assert.equal(r.code, 2, `case ${i}: ${r.stderr}`);
      assert.match(r.stderr, wanted[i]!);
      assert.match(r.stderr, /usage:\n {2}fieldline-gateway modbus scan/);
    });
  });
});
