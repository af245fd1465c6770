// fieldline-sim's command line: the usage text, parsing, and every check on a value, each problem
// named with the option, the value given and what was expected (exit 2 in main.ts).
import { parseArgs } from 'node:util';

export const FAULT_KINDS = ['bad-values', 'bursts', 'skew', 'malformed', 'timeouts', 'exceptions'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const USAGE = `usage: fieldline-sim [--mqtt N] [--coap N] [--modbus-tcp N] [--modbus-rtu PATH] [options]

simulated devices (at least one kind):
  --mqtt N               MQTT sensors publishing JSON to devices/{id}/telemetry
  --coap N               CoAP sensors POSTing to /telemetry/{id}, confirmable, one request at a time
  --modbus-tcp N         Modbus/TCP slaves; prints their ports, register map and a gateway.yaml
                         modbus: section that polls them
  --modbus-rtu PATH      a Modbus RTU slave on serial device PATH (e.g. one end of
                         socat -d -d pty,raw,echo=0 pty,raw,echo=0)

common:
  --rate HZ              messages per second per sensor; Modbus register updates (and the printed
                         poll interval) per second (default 1)
  --duration S           stop after S seconds (default: run until SIGINT/SIGTERM); either way the
                         last line printed is a JSON summary: sent, good and each fault kind
  --faults [LIST]        fault mode; LIST is a comma-separated subset of (default: all)
                           bad-values  MQTT/CoAP: temperature out of range, "NaN" or text as a value, no metrics
                           skew        MQTT/CoAP: ts a day ahead or 30 days back
                           malformed   MQTT/CoAP: payloads that are not JSON/CBOR; CoAP: also malformed
                                       CoAP datagrams and random bytes; RTU: answers with a wrong CRC
                           bursts      MQTT/CoAP: every --burst-every S one sensor sends --burst-size
                                       good messages at once
                           timeouts    Modbus: requests left unanswered
                           exceptions  Modbus: exception answers 6 (busy) and 4 (device failure)
  --fault-rate R         share of messages (or Modbus requests) that carry a fault, 0-1 (default 0.1)
  --burst-every S        seconds between bursts (default 5)
  --burst-size N         messages per burst (default 250: above the gateway's default allowance of 200)
  -h, --help             this text

MQTT:    --url mqtt://localhost:1883   --qos 0|1 (default 1)   --prefix sim-mqtt
CoAP:    --coap-url coap://localhost:5683   --coap-format json|cbor (default json)   --coap-prefix sim-coap
Modbus:  --modbus-host 127.0.0.1 (where TCP slaves listen)   --modbus-port P (first TCP port; default:
         free ports)   --modbus-units N (units per slave, default 1)   --modbus-baud 19200
         --modbus-parity none|even|odd (default even)   --modbus-rtu-peer PATH (the gateway's end of
         the line, for the printed config)   --modbus-prefix sim-modbus

exit status: 0 after a clean stop, 1 when a device could not start, 2 for bad arguments`;

export interface SimOptions {
  mqtt: number;
  coap: number;
  modbusTcp: number;
  modbusRtu?: string;
  rate: number;
  durationS?: number;
  faults: ReadonlySet<FaultKind>;
  faultRate: number;
  burstEveryMs: number;
  burstSize: number;
  mqttUrl: string;
  qos: 0 | 1;
  mqttPrefix: string;
  coapHost: string;
  coapPort: number;
  coapFormat: 'json' | 'cbor';
  coapPrefix: string;
  modbusHost: string;
  modbusPort?: number;
  modbusUnits: number;
  modbusBaud: number;
  modbusParity: 'none' | 'even' | 'odd';
  modbusRtuPeer?: string;
  modbusPrefix: string;
}

export type ParsedArgs = { help: true } | { problems: string[] } | { options: SimOptions };

const OPTIONS = {
  mqtt: { type: 'string', default: '0' },
  coap: { type: 'string', default: '0' },
  'modbus-tcp': { type: 'string', default: '0' },
  'modbus-rtu': { type: 'string' },
  rate: { type: 'string', default: '1' },
  duration: { type: 'string' },
  faults: { type: 'string' },
  'fault-rate': { type: 'string', default: '0.1' },
  'burst-every': { type: 'string', default: '5' },
  'burst-size': { type: 'string', default: '250' },
  url: { type: 'string', default: 'mqtt://localhost:1883' },
  qos: { type: 'string', default: '1' },
  prefix: { type: 'string', default: 'sim-mqtt' },
  'coap-url': { type: 'string', default: 'coap://localhost:5683' },
  'coap-format': { type: 'string', default: 'json' },
  'coap-prefix': { type: 'string', default: 'sim-coap' },
  'modbus-host': { type: 'string', default: '127.0.0.1' },
  'modbus-port': { type: 'string' },
  'modbus-units': { type: 'string', default: '1' },
  'modbus-baud': { type: 'string', default: '19200' },
  'modbus-parity': { type: 'string', default: 'even' },
  'modbus-rtu-peer': { type: 'string' },
  'modbus-prefix': { type: 'string', default: 'sim-modbus' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `--faults` may stand alone (all kinds): give it the value "all" so parseArgs accepts it. */
function bareFaults(argv: readonly string[]): string[] {
  return argv.map((a, i) => (a === '--faults' && (i === argv.length - 1 || argv[i + 1]?.startsWith('-')) ? '--faults=all' : a));
}

const DEVICE_ID_PREFIX = /^[A-Za-z0-9_.:-]{1,100}$/;

export function parseSimArgs(argv: readonly string[]): ParsedArgs {
  let values;
  try {
    ({ values } = parseArgs({ args: bareFaults(argv), options: OPTIONS, allowPositionals: false, strict: true }));
  } catch (err) {
    return { problems: [(err as Error).message] };
  }
  if (values.help) return { help: true };
  const problems: string[] = [];
  const check = <T>(ok: boolean, value: T, problem: string): T => {
    if (!ok) problems.push(problem);
    return value;
  };
  const whole = (name: string, text: string, min: number, max: number): number => {
    const n = Number(text);
    return check(text.trim() !== '' && Number.isInteger(n) && n >= min && n <= max, n, `--${name} ${text}: expected a whole number from ${min} to ${max}`);
  };
  const positive = (name: string, text: string, max: number): number => {
    const n = Number(text);
    return check(n > 0 && n <= max, n, `--${name} ${text}: expected a number in (0, ${max}]`);
  };
  const oneOf = <T extends string>(name: string, text: string, allowed: readonly T[]): T =>
    check((allowed as readonly string[]).includes(text), text as T, `--${name} ${text}: expected one of ${allowed.join(', ')}`);
  const prefix = (name: string, text: string): string =>
    check(DEVICE_ID_PREFIX.test(text), text, `--${name} ${text}: expected 1-100 characters of A-Z a-z 0-9 _ . : - (it starts every device id)`);

  const mqtt = whole('mqtt', values.mqtt, 0, 100_000);
  const coap = whole('coap', values.coap, 0, 10_000);
  const modbusTcp = whole('modbus-tcp', values['modbus-tcp'], 0, 1_000);
  const modbusRtu = values['modbus-rtu'];
  if (modbusRtu !== undefined) check(modbusRtu.trim() !== '', '', '--modbus-rtu: expected the path of a serial device');
  if (problems.length === 0 && mqtt === 0 && coap === 0 && modbusTcp === 0 && modbusRtu === undefined) {
    problems.push('nothing to simulate: give --mqtt N, --coap N, --modbus-tcp N or --modbus-rtu PATH');
  }

  const rate = positive('rate', values.rate, 10_000);
  const durationS = values.duration === undefined ? undefined : positive('duration', values.duration, 365 * 86_400);

  let faults = new Set<FaultKind>();
  if (values.faults !== undefined) {
    const listed = values.faults === 'all' ? [...FAULT_KINDS] : values.faults.split(',').map((k) => k.trim());
    const unknown = listed.filter((k) => !(FAULT_KINDS as readonly string[]).includes(k));
    check(unknown.length === 0 && listed.length > 0, null, `--faults ${values.faults}: expected a comma-separated list of ${FAULT_KINDS.join(', ')} (or no value for all)`);
    faults = new Set(listed.filter((k): k is FaultKind => (FAULT_KINDS as readonly string[]).includes(k)));
  }
  const faultRate = Number(values['fault-rate']);
  check(values['fault-rate'].trim() !== '' && faultRate >= 0 && faultRate <= 1, null, `--fault-rate ${values['fault-rate']}: expected a number from 0 to 1`);
  const burstEveryS = positive('burst-every', values['burst-every'], 86_400);
  const burstSize = whole('burst-size', values['burst-size'], 1, 100_000);

  const mqttUrl = values.url;
  const mqttProtocol = urlProtocol(mqttUrl);
  check(['mqtt:', 'mqtts:', 'tcp:', 'ws:', 'wss:'].includes(mqttProtocol ?? ''), null, `--url ${mqttUrl}: expected an MQTT broker URL such as mqtt://localhost:1883`);
  const qos = check(values.qos === '0' || values.qos === '1', Number(values.qos) as 0 | 1, `--qos ${values.qos}: expected 0 or 1`);

  const coapTarget = coapEndpoint(values['coap-url']);
  if ('problem' in coapTarget) problems.push(coapTarget.problem);
  const coapFormat = oneOf('coap-format', values['coap-format'], ['json', 'cbor'] as const);

  const modbusPort = values['modbus-port'] === undefined ? undefined : whole('modbus-port', values['modbus-port'], 1, 65_535);
  if (modbusPort !== undefined && Number.isInteger(modbusPort) && modbusPort + Math.max(1, modbusTcp) - 1 > 65_535) {
    problems.push(`--modbus-port ${modbusPort}: ${modbusTcp} slaves on consecutive ports would run past 65535`);
  }
  const modbusUnits = whole('modbus-units', values['modbus-units'], 1, 247);
  const modbusBaud = whole('modbus-baud', values['modbus-baud'], 300, 4_000_000);
  const modbusParity = oneOf('modbus-parity', values['modbus-parity'], ['none', 'even', 'odd'] as const);
  const modbusRtuPeer = values['modbus-rtu-peer'];
  if (modbusRtuPeer !== undefined && modbusRtu === undefined) problems.push(`--modbus-rtu-peer ${modbusRtuPeer}: only means something with --modbus-rtu PATH`);

  const options: SimOptions = {
    mqtt,
    coap,
    modbusTcp,
    ...(modbusRtu === undefined ? {} : { modbusRtu }),
    rate,
    ...(durationS === undefined ? {} : { durationS }),
    faults,
    faultRate,
    burstEveryMs: Math.round(burstEveryS * 1000),
    burstSize,
    mqttUrl,
    qos,
    mqttPrefix: prefix('prefix', values.prefix),
    coapHost: 'host' in coapTarget ? coapTarget.host : '',
    coapPort: 'port' in coapTarget ? coapTarget.port : 0,
    coapFormat,
    coapPrefix: prefix('coap-prefix', values['coap-prefix']),
    modbusHost: values['modbus-host'],
    ...(modbusPort === undefined ? {} : { modbusPort }),
    modbusUnits,
    modbusBaud,
    modbusParity,
    ...(modbusRtuPeer === undefined ? {} : { modbusRtuPeer }),
    modbusPrefix: prefix('modbus-prefix', values['modbus-prefix']),
  };
  return problems.length ? { problems } : { options };
}

function urlProtocol(text: string): string | undefined {
  try {
    return new URL(text).protocol;
  } catch {
    return undefined;
  }
}

/** coap://host[:port]; the sensors speak UDP over IPv4 (coap-sensor.ts binds udp4 sockets). */
function coapEndpoint(text: string): { host: string; port: number } | { problem: string } {
  const expected = `--coap-url ${text}: expected coap://HOST[:PORT] with an IPv4 address or host name, such as coap://localhost:5683`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { problem: expected };
  }
  if (url.protocol !== 'coap:' || !url.hostname || url.hostname.startsWith('[')) return { problem: expected };
  return { host: url.hostname, port: url.port === '' ? 5683 : Number(url.port) };
}
