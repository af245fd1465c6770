// The commissioning page's Modbus back end: scans that run in the background with live progress
// (POST/GET/DELETE /modbus/scans), the serial ports present (GET /modbus/ports) and the register-map
// templates (GET /modbus/templates). Unlike the routes of modbus.ts these work on a gateway with
// Modbus off or no bus configured, the state a gateway arrives on site in: a scan names either a
// configured bus (and goes through its loop) or an ad-hoc line that this route opens itself.
import type { FastifyInstance } from 'fastify';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { GatewayError } from '../errors.js';
import type { BusInfo } from '../ingest/modbus/adapter.js';
import { canonicalPath, lineName, openLine, type AdHocLine } from '../ingest/modbus/lines.js';
import { loadTemplates, summarize, templatesDir } from '../ingest/modbus/templates.js';
import { checkUnits } from '../ingest/modbus/tools.js';
import type { ModbusApiDeps } from './modbus.js';
import { describeIssues, rtuReadLineSchema, rtuScanLineSchema, scanRequestSchema, tcpLineSchema, type LineRequest } from './modbus-schemas.js';
import { ScanJobs, type ScanPass } from './scan-jobs.js';

export interface ModbusCommissioningDeps {
  /** The Modbus adapter when Modbus is enabled (scans of a configured bus go through it). */
  adapter?: ModbusApiDeps | undefined;
  /** Default: a ScanJobs of the routes' own, stopped when the API closes. */
  jobs?: ScanJobs;
  /** Default: gateway/templates/modbus under the package root. */
  templatesDir?: string;
  /** Where serial devices are looked for. Default /dev. */
  devDir?: string;
  /** Ports the OS knows of with their USB details; default serialport's SerialPort.list(). */
  listPorts?: () => Promise<SystemPort[]>;
}

export interface SystemPort {
  path: string;
  manufacturer?: string | undefined;
  serialNumber?: string | undefined;
  vendorId?: string | undefined;
  productId?: string | undefined;
}

export interface PortView {
  path: string;
  /** The device node exists now. */
  present: boolean;
  /** Where the path came from: the OS's port list, a /dev name that looks serial, a configured bus, or the request. */
  sources: ('system' | 'dev' | 'bus' | 'typed')[];
  /** The configured bus that owns the port (scan and read it through that bus), or null. */
  ownedBy: string | null;
  manufacturer: string | null;
  serialNumber: string | null;
  vendorId: string | null;
  productId: string | null;
}

/** Serial device names worth offering: USB adapters, on-board UARTs (Raspberry Pi, i.MX, OMAP), RS-485 HATs. */
const SERIAL_NAME = /^(ttyUSB|ttyACM|ttyAMA|ttyS|ttySC|ttymxc|ttyO|ttyXRUSB|ttyCH\d*USB|serial)\d+$/;

/** Splits the line (bus, tcp or rtu: exactly one) from the rest of the body. */
export function splitLine(body: unknown, use: 'scan' | 'read'): { line: LineRequest; fields: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('FL_ERR_API_BAD_REQUEST', 'expected a JSON object body (content-type: application/json)');
  }
  const { bus, tcp, rtu, ...fields } = body as Record<string, unknown>;
  const given = Object.entries({ bus, tcp, rtu }).filter(([, v]) => v !== undefined).map(([k]) => k);
  const rtuShape = use === 'scan' ? '{"path", "baudRates"?: [9600, 19200], "parity"?, "stopBits"?}' : '{"path", "baudRate"?, "parity"?, "stopBits"?}';
  if (given.length !== 1) {
    const what = `the line: "bus": "<configured bus name>", "tcp": {"host", "port"?} or "rtu": ${rtuShape}`;
    throw new GatewayError('FL_ERR_API_BAD_REQUEST', given.length === 0 ? `expected ${what}` : `expected one of bus, tcp, rtu (got ${given.join(' and ')})`);
  }
  if (bus !== undefined) {
    if (typeof bus !== 'string' || bus === '') throw new GatewayError('FL_ERR_API_BAD_REQUEST', `bus: expected the name of a configured bus (got ${JSON.stringify(bus)})`);
    return { line: { bus }, fields };
  }
  if (tcp !== undefined) return { line: { tcp: parseOrRefuse(tcpLineSchema, tcp, 'tcp') }, fields };
  return { line: { rtu: use === 'scan' ? parseOrRefuse(rtuScanLineSchema, rtu, 'rtu') : parseOrRefuse(rtuReadLineSchema, rtu, 'rtu') }, fields };
}

function parseOrRefuse<T>(schema: z.ZodType<T>, input: unknown, key: string): T {
  const parsed = schema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new GatewayError('FL_ERR_API_BAD_REQUEST', describeIssues(parsed.error).replace(/(^|; )/g, `$1${key}.`).replaceAll(`${key}.(body)`, key));
  return parsed.data;
}

/** Refuses a serial port a configured bus owns: opening it beside the bus would garble both. */
export function refuseOwnedPort(path: string, buses: readonly BusInfo[]): void {
  const wanted = canonicalPath(path);
  const owner = buses.find((b) => b.type === 'rtu' && b.path !== undefined && canonicalPath(b.path) === wanted);
  if (owner) throw new GatewayError('FL_ERR_MODBUS_PORT_OWNED', `${path} is bus ${JSON.stringify(owner.name)}; send {"bus": ${JSON.stringify(owner.name)}} instead of "rtu"`);
}

/** A configured bus by name, connected; the refusals of POST /modbus/scan. */
export function usableBus(m: ModbusApiDeps | undefined, name: string): BusInfo {
  if (!m) throw new GatewayError('FL_ERR_MODBUS_DISABLED', `no bus ${JSON.stringify(name)}: scan an ad-hoc line with "tcp" or "rtu" instead`);
  const buses = m.busInfo();
  const bus = buses.find((b) => b.name === name);
  if (!bus) {
    const names = buses.map((b) => JSON.stringify(b.name)).join(', ') || 'none';
    throw new GatewayError('FL_ERR_MODBUS_UNKNOWN_BUS', `${JSON.stringify(name)}; configured: ${names}`);
  }
  if (!bus.connected) throw new GatewayError('FL_ERR_MODBUS_UNREACHABLE', `bus ${JSON.stringify(name)} is not connected (see GET /modbus for its last error)`);
  return bus;
}

export function modbusCommissioningRoutes(app: FastifyInstance, deps: ModbusCommissioningDeps): void {
  const jobs = deps.jobs ?? new ScanJobs();
  if (!deps.jobs) app.addHook('onClose', async () => jobs.stop());
  const dir = deps.templatesDir ?? templatesDir();

  // Body: {"bus"} | {"tcp": {"host", "port"?}} | {"rtu": {"path", "baudRates"?, "parity"?, "stopBits"?}},
  // and the probe: "units"?, "fn"?, "address"?, "count"?, "timeoutMs"?. Answers 202 {"id"}.
  app.post('/modbus/scans', async (req, reply) => {
    const { line, fields } = splitLine(req.body, 'scan');
    const parsed = scanRequestSchema.safeParse(fields, { reportInput: true });
    if (!parsed.success) throw new GatewayError('FL_ERR_API_BAD_REQUEST', describeIssues(parsed.error));
    const probe = parsed.data;
    let key: string;
    let passes: ScanPass[];
    let kind: 'tcp' | 'rtu';
    if ('bus' in line) {
      const m = deps.adapter;
      const bus = usableBus(m, line.bus);
      kind = bus.type;
      key = `bus:${bus.name}`;
      const request = (m as ModbusApiDeps).request.bind(m);
      passes = [{ port: bus.name, baudRate: null, open: async () => ({ read: (...a) => request(bus.name, ...a), close: async () => undefined }) }];
    } else if ('tcp' in line) {
      kind = 'tcp';
      const adhoc: AdHocLine = { kind: 'tcp', ...line.tcp };
      key = lineName(adhoc);
      passes = [{ port: key, baudRate: null, open: () => openLine(adhoc) }];
    } else {
      kind = 'rtu';
      const rtu = line.rtu as z.output<typeof rtuScanLineSchema>;
      refuseOwnedPort(rtu.path, configuredBuses(deps.adapter));
      key = `rtu:${canonicalPath(rtu.path)}`;
      passes = rtu.baudRates.map((baudRate) => ({
        port: rtu.path,
        baudRate,
        open: () => openLine({ kind: 'rtu', path: rtu.path, baudRate, parity: rtu.parity, stopBits: rtu.stopBits }),
      }));
    }
    const badUnits = checkUnits(probe.units, kind);
    if (badUnits) throw new GatewayError('FL_ERR_API_BAD_REQUEST', `units: ${badUnits}`);
    const job = jobs.start(key, line, passes, probe);
    return reply.status(202).send({ id: job.id });
  });

  app.get('/modbus/scans', async () => ({ scans: jobs.list() }));

  app.get<{ Params: { id: string } }>('/modbus/scans/:id', async (req) => {
    const job = jobs.get(req.params.id);
    if (!job) throw new GatewayError('FL_ERR_API_NOT_FOUND', `scan ${JSON.stringify(req.params.id)} (only the last finished scans are kept)`);
    return job;
  });

  // Stops the scan after the unit it is probing; answers once it has stopped (or after 3 s, still running).
  app.delete<{ Params: { id: string } }>('/modbus/scans/:id', async (req) => {
    const job = jobs.cancel(req.params.id);
    if (!job) throw new GatewayError('FL_ERR_API_NOT_FOUND', `scan ${JSON.stringify(req.params.id)} (only the last finished scans are kept)`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([jobs.settled(job.id), new Promise<void>((r) => (timer = setTimeout(r, 3_000)))]);
    clearTimeout(timer);
    return jobs.get(job.id) ?? job;
  });

  // ?path=/dev/ttyX (repeatable): paths the tech typed, shown whether or not they exist.
  app.get<{ Querystring: { path?: string | string[] } }>('/modbus/ports', async (req) => {
    const typed = req.query.path === undefined ? [] : [req.query.path].flat();
    return listPorts(deps, typed);
  });

  app.get('/modbus/templates', async () => ({ templates: loadTemplates(dir).map(summarize) }));

  app.get<{ Params: { id: string } }>('/modbus/templates/:id', async (req) => {
    const template = loadTemplates(dir).find((t) => t.id === req.params.id);
    if (!template) throw new GatewayError('FL_ERR_API_NOT_FOUND', `template ${JSON.stringify(req.params.id)}; see GET /modbus/templates`);
    return template;
  });
}

async function defaultListPorts(): Promise<SystemPort[]> {
  const { SerialPort } = await import('serialport');
  return SerialPort.list();
}

async function listPorts(deps: ModbusCommissioningDeps, typed: readonly string[]): Promise<{ ports: PortView[]; listError?: string }> {
  const devDir = deps.devDir ?? '/dev';
  const byPath = new Map<string, PortView>();
  const add = (path: string, source: PortView['sources'][number], info: SystemPort = { path }): void => {
    const known = byPath.get(path);
    const view: PortView = known ?? { path, present: false, sources: [], ownedBy: null, manufacturer: null, serialNumber: null, vendorId: null, productId: null };
    if (!view.sources.includes(source)) view.sources.push(source);
    view.manufacturer ??= info.manufacturer ?? null;
    view.serialNumber ??= info.serialNumber ?? null;
    view.vendorId ??= info.vendorId ?? null;
    view.productId ??= info.productId ?? null;
    byPath.set(path, view);
  };
  let listError: string | undefined;
  try {
    for (const p of await (deps.listPorts ?? defaultListPorts)()) add(p.path, 'system', p);
  } catch (err) {
    // serialport asks udevadm, which a minimal image may lack; the /dev names below still show.
    listError = `the system's port list is unavailable: ${(err as Error).message}`;
  }
  try {
    for (const name of readdirSync(devDir)) if (SERIAL_NAME.test(name)) add(join(devDir, name), 'dev');
  } catch {
    // No /dev to read (not Linux): the system list and the typed paths remain.
  }
  const buses = configuredBuses(deps.adapter).filter((b) => b.type === 'rtu' && b.path !== undefined);
  for (const b of buses) add(b.path as string, 'bus');
  for (const p of typed) if (p !== '') add(p, 'typed');
  for (const view of byPath.values()) {
    const real = canonicalPath(view.path);
    view.present = existsSync(view.path);
    view.ownedBy = buses.find((b) => canonicalPath(b.path as string) === real)?.name ?? null;
  }
  const ports = [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
  return listError === undefined ? { ports } : { ports, listError };
}

/**
 * The buses the running gateway polls; none while Modbus is off. The gateway hands over an adapter
 * view that follows reconfiguration and answers FL_ERR_MODBUS_DISABLED while no adapter runs: the
 * ad-hoc lines need no adapter, so that is "no buses" here, not an error.
 */
function configuredBuses(adapter: ModbusApiDeps | undefined): BusInfo[] {
  if (!adapter) return [];
  try {
    return adapter.busInfo();
  } catch (err) {
    if (err instanceof GatewayError && err.code === 'FL_ERR_MODBUS_DISABLED') return [];
    throw err;
  }
}
