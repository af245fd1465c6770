// fieldline-gateway modbus scan | read: the field tech's commissioning tools (DESIGN.md, entry points).
// Two ways to reach the line: open it here (--tcp, --rtu) when no gateway runs, or ask the running
// gateway's local API (--bus), whose bus loop owns the port, so a serial port is never opened twice
// and the polls go on. Exit codes: 0 done, 1 the read or the line failed, 2 bad arguments.
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { describeIssues, readRequestSchema, scanRequestSchema, type ReadRequest, type ScanRequest } from '../api/modbus-schemas.js';
import { GATEWAY_ENV_PREFIX } from '../config/schema.js';
import { catalogue } from '../errors.js';
import { DEFAULT_BAUD_RATE, DEFAULT_PARITY, DEFAULT_STOP_BITS, DEFAULT_TCP_PORT } from '../ingest/modbus/config.js';
import { openLine, type OpenLine } from '../ingest/modbus/lines.js';
import { exceptionName } from '../ingest/modbus/spec.js';
import { localApiTarget, UsageError } from './local-api.js';
import { checkUnits, scanUnits, testRead, type ReadFn, type ScanResult, type TestReadResult } from '../ingest/modbus/tools.js';
import { ModbusFailure } from '../ingest/modbus/transport.js';
import type { Decoding } from '../ingest/modbus/conversions.js';
import type { ScanJobView } from '../api/scan-jobs.js';
import { scanProgressBar, type ScanProgressBar } from './scan-progress.js';

export const MODBUS_USAGE = `usage:
  fieldline-gateway modbus scan LINE [--units 1-247] [--fn 3] [--address 0] [--count 1] [--timeout 200] [--json]
      probe each unit id with one small read; list the units that answer (an exception answer counts);
      in a terminal a progress bar shows percent, units probed, found so far and the time left
  fieldline-gateway modbus read LINE --unit N --address A [--fn 3] [--count N]
                                     [--type float32 [--order CDAB] [--scale 0.1] [--offset 0]] [--timeout 1000] [--json]
      read once; show the registers (or bits), and the value decoded as --type
      (--type all: a table of every type in every byte order, to see which one looks right)
LINE is one of:
  --tcp HOST[:PORT]  open a Modbus/TCP connection (port ${DEFAULT_TCP_PORT} when left out)
  --rtu PATH         open a serial port: [--baud ${DEFAULT_BAUD_RATE}] [--parity none|even|odd (${DEFAULT_PARITY})] [--data-bits 8] [--stop-bits 1|2]
                     (scan takes several rates, --baud 9600,19200, and scans at each in turn)
  --bus NAME         go through the running gateway, which owns that bus: [--api http://127.0.0.1:8080] [--token T]
                     (defaults: api.port and api.adminToken from --config FILE and ${GATEWAY_ENV_PREFIX}API__* variables)
--units takes ids and ranges: 1-10,17. --fn: 1 coils, 2 discrete inputs, 3 holding, 4 input registers.
--address is the 0-based PDU address (holding register 40001 is address 0).
--type int16|uint16|int32|uint32|float32|float64|all, --order ABCD|CDAB|BADC|DCBA. --timeout is in ms.`;

const OPTIONS = {
  tcp: { type: 'string' },
  rtu: { type: 'string' },
  baud: { type: 'string' },
  parity: { type: 'string' },
  'data-bits': { type: 'string' },
  'stop-bits': { type: 'string' },
  bus: { type: 'string' },
  api: { type: 'string' },
  token: { type: 'string' },
  config: { type: 'string', short: 'c' },
  units: { type: 'string' },
  unit: { type: 'string' },
  fn: { type: 'string' },
  address: { type: 'string' },
  count: { type: 'string' },
  type: { type: 'string' },
  order: { type: 'string' },
  scale: { type: 'string' },
  offset: { type: 'string' },
  timeout: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

/** The request fields under the option names the tech typed, for error messages. */
const OPTION_NAMES: Record<string, string> = {
  unit: '--unit', units: '--units', fn: '--fn', address: '--address', count: '--count', type: '--type',
  byteOrder: '--order', scale: '--scale', offset: '--offset', timeoutMs: '--timeout',
};


type Line =
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'rtu'; path: string; baudRate: number; parity: 'none' | 'even' | 'odd'; stopBits: 1 | 2; baudRates: number[] }
  | { kind: 'api'; bus: string; url: string; token: string };

export async function modbusCli(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    if (values.help) {
      console.log(MODBUS_USAGE);
      return 0;
    }
    const [sub, ...extra] = positionals;
    if (sub !== 'scan' && sub !== 'read') throw new UsageError(sub === undefined ? 'say scan or read' : `unknown subcommand ${JSON.stringify(sub)}: expected scan or read`);
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    if (sub === 'scan' && values.unit !== undefined) throw new UsageError('--unit is for read; scan takes --units');
    if (sub === 'read' && values.units !== undefined) throw new UsageError('--units is for scan; read takes --unit');
    const line = lineFrom(values);
    if (sub === 'read' && line.kind === 'rtu' && line.baudRates.length > 1) throw new UsageError('--baud: read takes one rate (scan takes several)');
    return sub === 'scan' ? await scan(line, scanRequest(values, line), values.json === true) : await read(line, readRequest(values, line), values.json === true);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      console.error(`fieldline-gateway modbus: ${(err as Error).message}\n${MODBUS_USAGE}`);
      return 2;
    }
    throw err;
  }
}

// --- arguments ------------------------------------------------------------------------------------

function lineFrom(v: Values): Line {
  const chosen = (['tcp', 'rtu', 'bus'] as const).filter((k) => v[k] !== undefined);
  if (chosen.length !== 1) throw new UsageError(chosen.length === 0 ? 'say where to read: --tcp HOST:PORT, --rtu PATH or --bus NAME' : `choose one of ${chosen.map((k) => `--${k}`).join(', ')}`);
  const serialOnly = (['baud', 'parity', 'data-bits', 'stop-bits'] as const).filter((k) => v[k] !== undefined);
  if (v.rtu === undefined && serialOnly.length > 0) throw new UsageError(`--${serialOnly[0]} applies to --rtu only`);
  const apiOnly = (['api', 'token', 'config'] as const).filter((k) => v[k] !== undefined);
  if (v.bus === undefined && apiOnly.length > 0) throw new UsageError(`--${apiOnly[0]} applies to --bus only`);
  if (v.tcp !== undefined) return { kind: 'tcp', ...hostPort(v.tcp) };
  if (v.rtu !== undefined) return serialLine(v.rtu, v);
  return apiLine(v.bus as string, v);
}

function hostPort(text: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(text);
  const port = Number(m?.[2] ?? DEFAULT_TCP_PORT);
  if (!m || port < 1 || port > 65535) throw new UsageError(`--tcp: expected HOST or HOST:PORT with a port 1-65535 (got ${JSON.stringify(text)})`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

function serialLine(path: string, v: Values): Line {
  const baudRates = [...new Set((v.baud ?? String(DEFAULT_BAUD_RATE)).split(',').map((r) => Number(r.trim())))];
  const bad = baudRates.find((r) => !Number.isInteger(r) || r < 300 || r > 4_000_000);
  if (bad !== undefined) throw new UsageError(`--baud: expected a rate of 300-4000000 bit/s, or several as 9600,19200 (got ${JSON.stringify(v.baud)})`);
  const baudRate = baudRates[0] as number;
  const parity = v.parity ?? DEFAULT_PARITY;
  if (parity !== 'none' && parity !== 'even' && parity !== 'odd') throw new UsageError(`--parity: expected none, even or odd (got ${JSON.stringify(parity)})`);
  if (v['data-bits'] !== undefined && v['data-bits'] !== '8') throw new UsageError(`--data-bits: expected 8, RTU characters carry 8 data bits (got ${JSON.stringify(v['data-bits'])})`);
  const stopBits = Number(v['stop-bits'] ?? DEFAULT_STOP_BITS);
  if (stopBits !== 1 && stopBits !== 2) throw new UsageError(`--stop-bits: expected 1 or 2 (got ${JSON.stringify(v['stop-bits'])})`);
  return { kind: 'rtu', path, baudRate, parity, stopBits, baudRates };
}

function apiLine(bus: string, v: Values): Line {
  const { url, token } = localApiTarget(v);
  return { kind: 'api', bus, url, token: token as string };
}

/** Numbers as numbers (0x10 works), anything else left as text so the schema names it. */
function num(text: string | undefined): number | string | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  return text.trim() !== '' && Number.isFinite(n) ? n : text;
}

function checked<T>(schema: z.ZodType<T>, input: Record<string, unknown>): T {
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const parsed = schema.safeParse(defined, { reportInput: true });
  if (!parsed.success) throw new UsageError(describeIssues(parsed.error, OPTION_NAMES));
  return parsed.data;
}

function scanRequest(v: Values, line: Line): ScanRequest {
  const req = checked(scanRequestSchema, { units: v.units, fn: num(v.fn), address: num(v.address), count: num(v.count), timeoutMs: num(v.timeout) });
  const bad = line.kind === 'api' ? undefined : checkUnits(req.units, line.kind);
  if (bad) throw new UsageError(`--units: ${bad}`);
  return req;
}

function readRequest(v: Values, line: Line): ReadRequest {
  if (v.unit === undefined) throw new UsageError('--unit: say which unit id to read');
  if (v.address === undefined) throw new UsageError('--address: say which address to read');
  const all = v.type === 'all';
  const req = checked(readRequestSchema, {
    unit: num(v.unit), fn: num(v.fn), address: num(v.address), count: num(v.count), type: all ? undefined : v.type, decode: all ? 'all' : undefined,
    byteOrder: v.order, scale: num(v.scale), offset: num(v.offset), timeoutMs: num(v.timeout),
  });
  const bad = line.kind === 'api' ? undefined : checkUnits([req.unit], line.kind);
  if (bad) throw new UsageError(`--unit: ${bad}`);
  return req;
}

// --- doing it -------------------------------------------------------------------------------------

/** A failure to report with exit 1. */
interface Failure {
  code: string;
  message: string;
  exceptionCode?: number;
}

async function scan(line: Line, req: ScanRequest, json: boolean): Promise<number> {
  if (!json) console.error(`scanning ${req.units.length} unit id${req.units.length === 1 ? '' : 's'} on ${describeLine(line)} (${req.timeoutMs} ms each for a silent one)…`);
  if (line.kind === 'api') {
    // In a terminal, the gateway's scan job shows its progress; otherwise one request, as before.
    const bar = json ? undefined : scanProgressBar(req.units.length);
    const outcome = bar ? await busScanJob(line, req, bar) : await callApi<ScanResult>(line, '/modbus/scan', { bus: line.bus, ...req });
    if ('error' in outcome) return fail(outcome.error, json);
    if (json) console.log(JSON.stringify(outcome.result, null, 2));
    else console.log(scanTable(outcome.result));
    return 0;
  }
  // One pass per baud rate (one on TCP), each on the line opened at that rate.
  const rates: (number | null)[] = line.kind === 'rtu' ? line.baudRates : [null];
  const bar = json ? undefined : scanProgressBar(rates.length * req.units.length);
  const results: (ScanResult & { baudRate?: number })[] = [];
  try {
    for (const baudRate of rates) {
      const pass = line.kind === 'rtu' && baudRate !== null ? { ...line, baudRate } : line;
      const outcome = await onOwnLine(pass, (r) => scanUnits(r, { ...req, ...bar?.hooks(baudRate) }));
      if ('error' in outcome) {
        bar?.stop();
        return fail(outcome.error, json);
      }
      results.push(baudRate === null ? outcome.result : { baudRate, ...outcome.result });
    }
  } finally {
    bar?.stop();
  }
  // A single pass prints what it always printed; several print one result per rate.
  if (json) console.log(JSON.stringify(results.length === 1 ? results[0] : results, null, 2));
  else console.log(results.map((r) => (results.length === 1 ? scanTable(r) : `at ${r.baudRate} baud:\n${scanTable(r)}`)).join('\n\n'));
  return 0;
}

async function read(line: Line, req: ReadRequest, json: boolean): Promise<number> {
  const outcome = line.kind === 'api' ? await callApi<TestReadResult>(line, '/modbus/read', { bus: line.bus, ...req }) : await onOwnLine(line, (r) => testRead(r, req));
  if ('error' in outcome) return fail(outcome.error, json);
  if (json) console.log(JSON.stringify(outcome.result, null, 2));
  else console.log(readTable(outcome.result));
  return 0;
}

function fail(error: Failure, json: boolean): number {
  if (json) console.log(JSON.stringify({ error }, null, 2));
  console.error(`fieldline-gateway modbus: ${error.message} [${error.code}]`);
  return 1;
}

function describeLine(line: Line): string {
  if (line.kind === 'tcp') return `${line.host}:${line.port}`;
  if (line.kind === 'rtu') return `${line.path} (${line.baudRates.join(', ')} ${line.parity[0]?.toUpperCase()}8${line.stopBits})`;
  return `bus ${JSON.stringify(line.bus)} of the gateway at ${line.url}`;
}

/** Opens the line, runs `work` on it, closes it; a Modbus failure becomes a Failure. */
async function onOwnLine<T>(line: Extract<Line, { kind: 'tcp' | 'rtu' }>, work: (read: ReadFn) => Promise<T>): Promise<{ result: T } | { error: Failure }> {
  let open: OpenLine;
  try {
    open = await openLine(line);
  } catch (err) {
    if (!(err instanceof ModbusFailure)) throw err;
    // On the command line the way through the gateway is a flag.
    const message = err.message.replace("go through the gateway's bus instead", 'go through the gateway with --bus NAME instead');
    return { error: { code: 'FL_ERR_MODBUS_UNREACHABLE', message } };
  }
  try {
    return { result: await work(open.read) };
  } catch (err) {
    if (!(err instanceof ModbusFailure)) throw err;
    const exception = err.exceptionCode === undefined ? {} : { exceptionCode: err.exceptionCode };
    return { error: { code: err.code, message: `${catalogue[err.code].message}: ${err.message}`, ...exception } };
  } finally {
    await open.close();
  }
}

/** POSTs to the gateway's local API; no client timeout, since a long scan is legitimately slow. */
async function callApi<T>(line: Extract<Line, { kind: 'api' }>, path: string, body: unknown, method: 'POST' | 'GET' = 'POST'): Promise<{ result: T } | { error: Failure }> {
  const url = new URL(line.url + path);
  const payload = Buffer.from(method === 'GET' ? '' : JSON.stringify(body));
  let answer: { status: number; text: string };
  try {
    answer = await new Promise((resolve, reject) => {
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers = method === 'GET' ? { authorization: `Bearer ${line.token}` } : { authorization: `Bearer ${line.token}`, 'content-type': 'application/json', 'content-length': payload.length };
      const req = send(url, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  } catch (err) {
    return { error: { code: 'FL_ERR_MODBUS_UNREACHABLE', message: `cannot reach the gateway's local API at ${line.url}: ${(err as Error).message} (is the gateway running? see --api)` } };
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.text);
  } catch {
    return { error: { code: 'FL_ERR_API_INTERNAL', message: `the gateway answered ${answer.status} with something other than JSON: ${answer.text.slice(0, 200)}` } };
  }
  if (answer.status === 200 || answer.status === 202) return { result: parsed as T };
  const error = (parsed as { error?: Failure }).error ?? { code: 'FL_ERR_API_INTERNAL', message: `HTTP ${answer.status}` };
  // What only the gateway can check (a bus by that name, units 1-247 on a serial bus) is still a bad argument.
  if (answer.status === 400 || error.code === 'FL_ERR_MODBUS_UNKNOWN_BUS') throw new UsageError(`the gateway refused the request: ${error.message}`);
  return { error };
}

/** POST /modbus/scans on the bus, then polls the job, moving the bar, until it ends; its result as scanUnits reports one. */
async function busScanJob(line: Extract<Line, { kind: 'api' }>, req: ScanRequest, bar: ScanProgressBar): Promise<{ result: ScanResult } | { error: Failure }> {
  try {
    const started = await callApi<{ id: string }>(line, '/modbus/scans', { bus: line.bus, ...req });
    if ('error' in started) return started;
    for (;;) {
      const got = await callApi<ScanJobView>(line, `/modbus/scans/${encodeURIComponent(started.result.id)}`, undefined, 'GET');
      if ('error' in got) return got;
      const job = got.result;
      bar.show(job.progress.probed, job.found.length, job.progress.etaMs, job.progress.current === null ? '' : `unit ${job.progress.current.unitId}`);
      if (job.state === 'failed') return { error: job.error ?? { code: 'FL_ERR_API_INTERNAL', message: 'the scan failed' } };
      if (job.state !== 'running') return { result: jobAsScanResult(job, req) };
      await new Promise((r) => setTimeout(r, BUS_SCAN_POLL_MS));
    }
  } finally {
    bar.stop();
  }
}

const BUS_SCAN_POLL_MS = 200;

function jobAsScanResult(job: ScanJobView, req: ScanRequest): ScanResult {
  const units = job.found.map(({ unitId, answer, exception, exceptionCode, ms }) => ({ unitId, answer, ms, ...(exceptionCode === undefined ? {} : { exceptionCode, exception }) }));
  const exceptions = units.filter((u) => u.answer === 'exception').length;
  const { probed } = job.progress;
  return {
    fn: req.fn, address: req.address, count: req.count, timeoutMs: req.timeoutMs, units, probed, found: units.length, exceptions,
    silent: probed - units.length - job.garbled.length,
    garbled: job.garbled.map(({ unitId, kind, message }) => ({ unitId, kind: kind as ScanResult['garbled'][number]['kind'], message })),
    complete: job.state === 'done',
    elapsedMs: job.finishedAt === null ? 0 : Date.parse(job.finishedAt) - Date.parse(job.startedAt),
  };
}

// --- tables ---------------------------------------------------------------------------------------

function scanTable(r: ScanResult): string {
  const rows = r.units.map((u) => {
    const answer = u.answer === 'data' ? 'data' : `exception ${u.exceptionCode} (${u.exception ?? exceptionName(u.exceptionCode ?? 0)})`;
    return `${String(u.unitId).padStart(4)}  ${answer.padEnd(44)} ${String(u.ms).padStart(5)} ms`;
  });
  const lines = r.units.length > 0 ? [`unit  ${'answer'.padEnd(44)} ${'time'.padStart(8)}`, ...rows] : ['no unit answered'];
  for (const g of r.garbled) lines.push(`unit ${g.unitId}: ${g.kind === 'crc' ? 'answer failed its CRC check (baud rate, parity, or two slaves with one address?)' : g.message}`);
  lines.push(
    `${r.found} of ${r.probed} unit ids answered (${r.exceptions} with an exception), ${r.silent} silent, ${r.garbled.length} garbled` +
      `; probe: function ${r.fn}, address ${r.address}, count ${r.count}, timeout ${r.timeoutMs} ms; ${(r.elapsedMs / 1000).toFixed(1)} s${r.complete ? '' : ' (stopped early)'}`,
  );
  return lines.join('\n');
}

function readTable(r: TestReadResult): string {
  const lines = [`unit ${r.unit}, function ${r.fn}, address ${r.address}, count ${r.count}: answered in ${r.elapsedMs} ms`];
  if (r.bits) {
    lines.push('address  value');
    r.bits.forEach((b, i) => lines.push(`${String(r.address + i).padStart(7)}  ${b ? 1 : 0}`));
  }
  if (r.registers) {
    lines.push(`address  hex     ${'uint16'.padStart(6)}  ${'int16'.padStart(6)}`);
    r.registers.forEach((reg, i) => {
      const signed = reg >= 0x8000 ? reg - 0x10000 : reg;
      lines.push(`${String(r.address + i).padStart(7)}  0x${reg.toString(16).padStart(4, '0')}  ${String(reg).padStart(6)}  ${String(signed).padStart(6)}`);
    });
  }
  if (r.decodings) lines.push(...decodingsTable(r.decodings));
  const d = r.decoded;
  if (d) {
    const scaling = d.scale === 1 && d.offset === 0 ? '' : ` × ${d.scale} + ${d.offset}`;
    const more = d.values.length > 1 ? ` (every ${d.type} read: ${d.values.join(', ')})` : '';
    lines.push(`${d.type} ${d.byteOrder}${scaling} = ${d.value}${more}`);
  }
  return lines.join('\n');
}

/**
 * Every type in every order, one row each: the value at the address in a right-aligned column (the
 * one a tech compares down the table), then the further values the read held.
 */
function decodingsTable(rows: readonly Decoding[]): string[] {
  const shown = rows.map((d) => ({ name: `${d.type} ${d.byteOrder}`, first: formatValue(d.value), more: d.values.slice(1).map(formatValue).join('  ') }));
  const nameWidth = Math.max(...shown.map((r) => r.name.length), 'type order'.length);
  const firstWidth = Math.max(...shown.map((r) => r.first.length), 'value'.length);
  const header = `${'type order'.padEnd(nameWidth)}  ${'value'.padStart(firstWidth)}${shown.some((r) => r.more) ? '  next values' : ''}`;
  return [header, ...shown.map((r) => `${r.name.padEnd(nameWidth)}  ${r.first.padStart(firstWidth)}${r.more ? `  ${r.more}` : ''}`)];
}

/** Floats to 7 significant digits (a float32 holds about that many), integers as they are. */
function formatValue(v: number): string {
  if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  const text = Number(v.toPrecision(7)).toString();
  return text.length > 16 ? v.toExponential(6) : text;
}
