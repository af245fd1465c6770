// fieldline-gateway status: one screen for the field tech (docs/OPERATIONS.md, "status"). It asks
// the running gateway's local API (GET /status); when no gateway answers it reads the outbox file
// read-only and says so, since the backlog is what a tech most needs to know about a stopped gateway.
// Exit codes: 0 running and healthy, 1 degraded or not running, 2 bad arguments or a refused token.
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../../common/src/config.js';
import type { ClockState } from '../clock/clock.js';
import type { AdapterStatus } from '../ingest/adapter.js';
import type { ModbusBusStats } from '../ingest/modbus/adapter.js';
import { oldestAgeMs, type OutboxStats } from '../outbox/outbox.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { localApiTarget, UsageError, type LocalApiTarget } from './local-api.js';

export const STATUS_USAGE = `  fieldline-gateway status [--config F] [--api URL] [--token T] [--json]
      adapters, cloud link, backlog and loss of the running gateway (from the outbox
      file when it is stopped); exit 0 healthy, 1 degraded or not running, 2 bad arguments`;

const WIDTH = 80;
const API_TIMEOUT_MS = 3_000;

/** The parts of GET /status (Gateway.status()) this screen shows; the rest passes through --json. */
export interface StatusAnswer {
  gatewayId: string;
  version: string;
  uptimeS: number;
  adapters: AdapterStatus[];
  outbox: OutboxStats & { oldestAgeMs: number; bound?: OutboxBound };
  cloud: { link: string; lastError: string; lastDeliveryMs: number | null; deliveredBatches: number; deliveredReadings: number; retryingBatches: number };
  loss: { rateLimited: number; quarantined: number; evicted: number };
  modbus?: { buses: ModbusBusStats[] };
  /** Config from the cloud (cloud-config/follower.ts); absent from gateways before issue 15. */
  cloudConfig?: { source: string; version: number; error: string; conflict: string };
  /** Absent from gateways older than the clock (issue 15). */
  clock?: Pick<ClockState, 'synced' | 'source' | 'detail' | 'lastJumpMs'>;
}

export interface OutboxBound {
  maxMessages: number;
  maxBytes: number;
  onFull: string;
}

/** What --json prints when no gateway answers. */
export interface OfflineStatus {
  running: false;
  gatewayId: string;
  /** Why the local API did not answer. */
  reason: string;
  api: string;
  outboxPath: string;
  outbox: (OutboxStats & { oldestAgeMs: number }) | null;
  bound: OutboxBound;
}

export async function statusCli(argv: string[]): Promise<number> {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: {
        config: { type: 'string', short: 'c' }, api: { type: 'string' }, token: { type: 'string' },
        json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' },
      },
      allowPositionals: true,
      strict: true,
    });
    if (values.help) {
      console.log(`usage:\n${STATUS_USAGE}`);
      return 0;
    }
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const cfg = loadConfig(gatewayConfigSchema, { file: values.config, envPrefix: GATEWAY_ENV_PREFIX });
    const target = localApiTarget(values, { tokenOptional: true, cfg });
    const asked = await askGateway(target);
    if ('answer' in asked) {
      const reasons = degraded(asked.answer);
      console.log(values.json ? JSON.stringify(asked.answer, null, 2) : renderOnline(asked.answer, reasons, target.url));
      return reasons.length === 0 ? 0 : 1;
    }
    const offline = await offlineStatus(cfg, target.url, asked.unreachable);
    console.log(values.json ? JSON.stringify(offline, null, 2) : renderOffline(offline));
    return 1;
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_'))) {
      console.error(`fieldline-gateway status: ${(err as Error).message}\nusage:\n${STATUS_USAGE}`);
      return 2;
    }
    throw err;
  }
}

/** The gateway's answer, or why there was none; a refused token is a UsageError (exit 2). */
async function askGateway(target: LocalApiTarget): Promise<{ answer: StatusAnswer } | { unreachable: string }> {
  let res: Response;
  try {
    if (target.token === undefined) {
      // Without a token only /healthz answers: enough to tell "running, say the token" from "stopped".
      res = await fetch(`${target.url}/healthz`, { signal: AbortSignal.timeout(API_TIMEOUT_MS) });
      if (res.ok) {
        throw new UsageError(`the gateway at ${target.url} is running, and no token is known: pass --token (a gateway without api.adminToken logs the one it generated at start) or set api.adminToken`);
      }
      return { unreachable: `GET /healthz answered ${res.status}` };
    }
    res = await fetch(`${target.url}/status`, { headers: { authorization: `Bearer ${target.token}` }, signal: AbortSignal.timeout(API_TIMEOUT_MS) });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return { unreachable: cause?.code ?? cause?.message ?? (err as Error).message };
  }
  if (res.status === 401) throw new UsageError(`the gateway at ${target.url} refused the token (401); check --token or api.adminToken`);
  if (!res.ok) return { unreachable: `GET /status answered ${res.status}: ${(await res.text()).slice(0, 200)}` };
  return { answer: (await res.json()) as StatusAnswer };
}

function boundOf(cfg: GatewayConfig): OutboxBound {
  return { maxMessages: cfg.outbox.maxMessages, maxBytes: cfg.outbox.maxBytes, onFull: cfg.outbox.onFull };
}

async function offlineStatus(cfg: GatewayConfig, api: string, reason: string): Promise<OfflineStatus> {
  // Loaded here only, so asking a running gateway never loads SQLite.
  const { SqliteOutbox, outboxOptions } = await import('../outbox/sqlite-outbox.js');
  const { path } = outboxOptions(cfg.outbox, resolve(cfg.dataDir));
  let outbox: OfflineStatus['outbox'] = null;
  if (existsSync(path)) {
    // Read-only: never repairs or migrates a file it only looks at.
    const o = new SqliteOutbox({ path, readOnly: true });
    try {
      const s = o.stats();
      outbox = { ...s, oldestAgeMs: oldestAgeMs(s) };
    } finally {
      o.close();
    }
  }
  return { running: false, gatewayId: cfg.gatewayId, reason, api, outboxPath: path, outbox, bound: boundOf(cfg) };
}

/** Why the gateway is not healthy; empty when it is. */
export function degraded(s: StatusAnswer): string[] {
  const out: string[] = [];
  for (const a of s.adapters) if (a.state === 'down' || a.state === 'degraded') out.push(`adapter ${a.name} ${a.state}`);
  if (s.cloud.link !== 'up') out.push(`cloud link ${s.cloud.link}`);
  if (s.outbox.full) out.push(`outbox refusing readings (${s.outbox.full.code})`);
  if (s.outbox.recovery) out.push('outbox file was damaged and replaced');
  if (s.clock && !s.clock.synced) out.push('clock not synchronised (readings the gateway stamps wait in the outbox)');
  return out;
}

// --- rendering --------------------------------------------------------------------------------------

function fit(line: string): string {
  return line.length <= WIDTH ? line : `${line.slice(0, WIDTH - 1)}…`;
}

/** A label column of 10, then the text; continuation lines indent under the text. */
function section(label: string, lines: string[]): string[] {
  return lines.map((l, i) => fit(`${(i === 0 ? label : '').padEnd(10)}${l}`));
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[u]}`;
}

export function duration(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const d = Math.floor(s / 86_400);
  const h = Math.floor((s % 86_400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = s % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h`;
  if (h > 0) return `${h}h${two(m)}m`;
  if (m > 0) return `${m}m${two(sec)}s`;
  return `${sec}s`;
}

function backlogLines(o: OutboxStats & { oldestAgeMs: number }, bound: OutboxBound | undefined): string[] {
  const lines = [
    o.depthMessages === 0
      ? 'empty'
      : `${o.depthValues} readings in ${o.depthMessages} messages, ${bytes(o.depthBytes)}, oldest ${duration(o.oldestAgeMs)} old`,
    `${o.leasedBatches} batches leased, next seq ${o.nextSeq}, ${o.quarantinePending} quarantined to send`,
  ];
  if (bound) {
    const limits = [bound.maxMessages ? `${bound.maxMessages} messages` : null, bound.maxBytes ? bytes(bound.maxBytes) : null].filter(Boolean);
    lines.push(`bound ${limits.length ? limits.join(' / ') : 'none'}, at the bound: ${bound.onFull}`);
  }
  if (o.full) lines.push(`FULL: ${o.full.reason}`);
  if (o.recovery) lines.push(`damaged file moved to ${o.recovery.movedTo}`);
  return lines;
}

export function renderOnline(s: StatusAnswer, reasons: string[], api: string): string {
  const nameWidth = Math.max(6, ...s.adapters.map((a) => a.name.length));
  const adapters = s.adapters.length
    ? s.adapters.map((a) => `${a.name.padEnd(nameWidth)}  ${a.state.padEnd(8)}  ${a.detail}`)
    : ['none enabled'];
  const c = s.cloud;
  const delivered = c.lastDeliveryMs === null ? 'no delivery yet' : `last delivery ${duration(Date.now() - c.lastDeliveryMs)} ago`;
  const cloud = [`${c.link.padEnd(8)}  ${delivered}; ${c.deliveredBatches} batches, ${c.deliveredReadings} readings sent`];
  if (c.lastError) cloud.push(`last error: ${c.lastError}`);
  if (c.retryingBatches) cloud.push(`${c.retryingBatches} batches waiting to be resent`);
  const cc = s.cloudConfig;
  // Silent while the file is all there is: nothing for the tech to know.
  if (cc && (cc.source !== 'file' || cc.error || cc.conflict)) {
    cloud.push(cc.source === 'cloud' ? `config: cloud version ${cc.version}` : cc.source === 'local' ? `config: changed on site (cloud version ${cc.version} before)` : 'config: from the file');
    if (cc.conflict) cloud.push(`config CONFLICT: ${cc.conflict}`);
    if (cc.error) cloud.push(`config refused: ${cc.error}`);
  }
  const l = s.loss;
  const lines = [
    ...section('gateway', [`${s.gatewayId}  version ${s.version}  up ${duration(s.uptimeS * 1000)}  (${api})`]),
    ...section('adapters', adapters),
    ...section('cloud', cloud),
    ...section('backlog', backlogLines(s.outbox, s.outbox.bound)),
    ...section('loss', [`rate-limited ${l.rateLimited}  quarantined ${l.quarantined}  evicted ${l.evicted}  (readings since start)`]),
  ];
  if (s.modbus && s.modbus.buses.length) lines.push(...section('modbus', modbusLines(s.modbus.buses)));
  if (s.clock) {
    // The step first: the line is cut at the screen's width, and the detail can be long.
    const jump = s.clock.lastJumpMs ? `, last step ${s.clock.lastJumpMs > 0 ? '+' : '-'}${duration(Math.abs(s.clock.lastJumpMs))}` : '';
    lines.push(...section('clock', [`${s.clock.synced ? 'synchronised' : 'NOT SYNCHRONISED'} (${s.clock.source})${jump}: ${s.clock.detail}`]));
  }
  lines.push(...section('state', [reasons.length ? `DEGRADED: ${reasons.join('; ')}` : 'OK']));
  return lines.join('\n');
}

function modbusLines(buses: ModbusBusStats[]): string[] {
  const out: string[] = [];
  for (const b of buses) {
    out.push(`${b.name} (${b.type}) ${b.connected ? 'connected' : 'NOT CONNECTED'}, ${b.requests} requests, ${b.connectErrors} connect errors`);
    for (const d of b.devices) {
      const exc = Object.values(d.exception).reduce((n, x) => n + x, 0);
      out.push(`  ${d.deviceId} unit ${d.unitId} ${d.state}: ok ${d.ok} timeout ${d.timeout} crc ${d.crcError} exc ${exc} bad ${d.protocolError}`);
    }
    if (b.lastError) out.push(`  last error: ${JSON.stringify(b.lastError)}`);
  }
  return out;
}

export function renderOffline(s: OfflineStatus): string {
  const lines = [
    ...section('gateway', [`${s.gatewayId}  NOT RUNNING`, `no answer at ${s.api}: ${s.reason}`]),
    ...section('backlog', s.outbox ? [...backlogLines(s.outbox, s.bound), `(read from ${s.outboxPath})`] : [`no outbox file at ${s.outboxPath} yet`]),
    ...section('loss', ['counted by the running gateway only; start it to see them']),
    ...section('state', ['DEGRADED: gateway not running']),
  ];
  return lines.join('\n');
}
