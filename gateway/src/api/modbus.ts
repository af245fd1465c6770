// The local API's Modbus commissioning actions (DESIGN.md "Gateway local API": Modbus scan and test
// read). Every read goes through the named bus's own loop (ModbusAdapter.request → Bus.request), so it
// never interleaves with the polls and a serial port is never opened twice. Refusals, in the order
// they are checked: 503 FL_ERR_MODBUS_DISABLED, 400 FL_ERR_API_BAD_REQUEST naming the field,
// 404 FL_ERR_MODBUS_UNKNOWN_BUS listing the buses, 503 FL_ERR_MODBUS_UNREACHABLE when the bus is not
// connected; a read that gets no data answers with its FL_ERR_MODBUS_… code (504 timeout, 502 exception).
import type { FastifyInstance, FastifyReply } from 'fastify';
import { GatewayError } from '../errors.js';
import type { BusInfo } from '../ingest/modbus/adapter.js';
import type { ReadFunction } from '../ingest/modbus/spec.js';
import { checkUnits, scanUnits, testRead, type ReadFn } from '../ingest/modbus/tools.js';
import type { z } from 'zod';
import { onLine, type AdHocLine } from '../ingest/modbus/lines.js';
import { configuredBuses, refuseOwnedPort, splitLine, usableBus } from './modbus-commissioning.js';
import { describeIssues, readRequestSchema, scanRequestSchema, type rtuReadLineSchema } from './modbus-schemas.js';

/** What the routes need from the Modbus adapter (ModbusAdapter has these). */
export interface ModbusApiDeps {
  busInfo(): BusInfo[];
  request(bus: string, unitId: number, fn: ReadFunction, address: number, count: number, timeoutMs: number): Promise<Buffer>;
  stats(): unknown;
  plan(): unknown;
}

/** `modbus` is undefined when modbus.enabled is false: every route answers 503 then. */
export function modbusRoutes(app: FastifyInstance, modbus: ModbusApiDeps | undefined): void {
  const adapter = (): ModbusApiDeps => {
    if (!modbus) throw new GatewayError('FL_ERR_MODBUS_DISABLED');
    return modbus;
  };

  app.get('/modbus', async () => {
    const m = adapter();
    return { buses: m.busInfo(), stats: m.stats(), plan: m.plan() };
  });

  // Body: {"bus", "units"?: "1-10,17" | [1, 17], "fn"?: 3, "address"?: 0, "count"?: 1, "timeoutMs"?: 200}
  app.post('/modbus/scan', async (req, reply) => {
    const m = adapter();
    const { bus, fields } = splitBus(req.body);
    const parsed = scanRequestSchema.safeParse(fields, { reportInput: true });
    if (!parsed.success) throw new GatewayError('FL_ERR_API_BAD_REQUEST', describeIssues(parsed.error));
    const line = usableBus(m, bus);
    const badUnits = checkUnits(parsed.data.units, line.type);
    if (badUnits) throw new GatewayError('FL_ERR_API_BAD_REQUEST', `units: ${badUnits}`);
    const read: ReadFn = (unit, fn, address, count, timeoutMs) => m.request(bus, unit, fn, address, count, timeoutMs);
    return { bus, ...(await scanUnits(read, { ...parsed.data, signal: whenClientLeaves(reply) })) };
  });

  // Body: {"bus", "unit", "fn"?: 3, "address", "count"?, "type"?, "byteOrder"?, "scale"?, "offset"?, "timeoutMs"?: 1000,
  // "decode"?: "all"}; instead of "bus", an ad-hoc line no bus polls: "tcp": {"host", "port"?} or
  // "rtu": {"path", "baudRate"?, "parity"?, "stopBits"?} (modbus-commissioning.ts), opened for this read only.
  app.post('/modbus/read', async (req) => {
    const body = req.body as Record<string, unknown> | null;
    const adHoc = typeof body === 'object' && body !== null && (body.tcp !== undefined || body.rtu !== undefined);
    if (adHoc) return adHocRead(body, modbus);
    const m = adapter();
    const { bus, fields } = splitBus(req.body);
    const parsed = readRequestSchema.safeParse(fields, { reportInput: true });
    if (!parsed.success) throw new GatewayError('FL_ERR_API_BAD_REQUEST', describeIssues(parsed.error));
    const line = usableBus(m, bus);
    const badUnit = checkUnits([parsed.data.unit], line.type);
    if (badUnit) throw new GatewayError('FL_ERR_API_BAD_REQUEST', `unit: ${badUnit}`);
    const read: ReadFn = (...args) => m.request(bus, ...args);
    return { bus, ...(await testRead(read, parsed.data)) };
  });
}

async function adHocRead(body: unknown, modbus: ModbusApiDeps | undefined): Promise<unknown> {
  const { line, fields } = splitLine(body, 'read');
  const parsed = readRequestSchema.safeParse(fields, { reportInput: true });
  if (!parsed.success) throw new GatewayError('FL_ERR_API_BAD_REQUEST', describeIssues(parsed.error));
  let adhoc: AdHocLine;
  if ('tcp' in line) adhoc = { kind: 'tcp', ...line.tcp };
  else if ('rtu' in line) {
    const rtu = line.rtu as z.output<typeof rtuReadLineSchema>;
    refuseOwnedPort(rtu.path, configuredBuses(modbus));
    adhoc = { kind: 'rtu', path: rtu.path, baudRate: rtu.baudRate, parity: rtu.parity, stopBits: rtu.stopBits };
  } else throw new GatewayError('FL_ERR_API_BAD_REQUEST', 'expected one of bus, tcp, rtu');
  const badUnit = checkUnits([parsed.data.unit], adhoc.kind);
  if (badUnit) throw new GatewayError('FL_ERR_API_BAD_REQUEST', `unit: ${badUnit}`);
  return { ...line, ...(await onLine(adhoc, (read) => testRead(read, parsed.data))) };
}

function splitBus(body: unknown): { bus: string; fields: Record<string, unknown> } {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new GatewayError('FL_ERR_API_BAD_REQUEST', 'expected a JSON object body (content-type: application/json)');
  }
  const { bus, ...fields } = body as Record<string, unknown>;
  if (typeof bus !== 'string' || bus === '') {
    throw new GatewayError('FL_ERR_API_BAD_REQUEST', `bus: expected the name of a configured bus${bus === undefined ? '' : ` (got ${JSON.stringify(bus)})`}`);
  }
  return { bus, fields };
}

/** Aborts when the client closes the connection before the answer is sent: a scan stops there. */
function whenClientLeaves(reply: FastifyReply): AbortSignal {
  const ac = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) ac.abort();
  });
  return ac.signal;
}
