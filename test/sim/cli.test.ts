// fieldline-sim's command line: bad arguments exit 2 naming the option, the value and what was
// expected, followed by the usage; --help exits 0; a device that cannot start exits 1.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { run } from '../../devstack/net.js';
import { SIM_CLI } from './support.js';

const sim = (...args: string[]) => run(process.execPath, [SIM_CLI, ...args], { timeoutMs: 20_000 });

describe('fieldline-sim arguments', () => {
  const bad: [string[], RegExp][] = [
    [[], /nothing to simulate: give --mqtt N, --coap N, --modbus-tcp N or --modbus-rtu PATH/],
    [['--coap', 'three'], /--coap three: expected a whole number from 0 to 10000/],
    [['--mqtt=-1'], /--mqtt -1: expected a whole number/],
    [['--mqtt', '-1'], /Option '--mqtt' argument is ambiguous/],
    [['--coap', '1', '--rate', '0'], /--rate 0: expected a number in \(0, 10000\]/],
    [['--coap', '1', '--duration', 'soon'], /--duration soon: expected a number/],
    [['--coap', '1', '--faults', 'bad-values,gremlins'], /--faults bad-values,gremlins: expected a comma-separated list of bad-values, bursts, skew, malformed, timeouts, exceptions/],
    [['--coap', '1', '--faults', '--fault-rate', '1.5'], /--fault-rate 1.5: expected a number from 0 to 1/],
    [['--coap', '1', '--coap-url', 'http://gw:5683'], /--coap-url http:\/\/gw:5683: expected coap:\/\/HOST\[:PORT\]/],
    [['--mqtt', '1', '--qos', '2'], /--qos 2: expected 0 or 1/],
    [['--modbus-tcp', '2', '--modbus-port', '65535'], /--modbus-port 65535: 2 slaves on consecutive ports would run past 65535/],
    [['--modbus-tcp', '1', '--modbus-rtu-peer', '/dev/pts/9'], /--modbus-rtu-peer \/dev\/pts\/9: only means something with --modbus-rtu PATH/],
    [['--modbus-rtu', '/dev/null', '--modbus-parity', 'mark'], /--modbus-parity mark: expected one of none, even, odd/],
    [['--coap', '1', '--colour'], /Unknown option '--colour'/],
    [['--coap', '1', 'extra'], /Unexpected argument 'extra'/],
  ];
  for (const [args, message] of bad) {
    test(`fieldline-sim ${args.join(' ') || '(no arguments)'} → exit 2: ${message.source.slice(0, 60)}`, async () => {
      const r = await sim(...args);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.match(r.stderr, message);
      assert.match(r.stderr, /^usage: fieldline-sim /m, 'the usage follows the problem');
      assert.equal(r.stdout, '', 'nothing was started');
    });
  }

  test('every problem is reported at once', async () => {
    const r = await sim('--coap', 'x', '--rate=-3', '--qos', '7');
    assert.equal(r.code, 2);
    for (const option of ['--coap x', '--rate -3', '--qos 7']) assert.ok(r.stderr.includes(option), `${option} in:\n${r.stderr}`);
  });

  test('--help prints the usage, with every fault kind, and exits 0', async () => {
    const r = await sim('--help');
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^usage: fieldline-sim /);
    for (const kind of ['bad-values', 'bursts', 'skew', 'malformed', 'timeouts', 'exceptions']) assert.match(r.stdout, new RegExp(`^ +${kind} `, 'm'));
  });

  test('a serial device that cannot be opened: exit 1 naming it, no summary', async () => {
    const r = await sim('--modbus-rtu', '/nonexistent/ttyFIELDLINE', '--duration', '1');
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stderr, /could not start: .*\/nonexistent\/ttyFIELDLINE/);
    assert.doesNotMatch(r.stdout, /^\{/m);
  });
});
