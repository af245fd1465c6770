// fieldline-gateway outbox export FILE: the backlog on a USB stick, for a gateway with no uplink
// (docs/OPERATIONS.md, "Carrying the backlog on a USB stick"). Every batch is one the outbox itself
// leased, so when the gateway later reaches the cloud it sends the same seqs and the sink's ledger
// drops the copies that came by stick. Nothing leaves the outbox here: only the cloud's delivery
// report deletes readings. Works beside a running gateway (SQLite WAL lets a second process in;
// its forwarder picks up what this command leased, forward/forwarder.ts adoptForeignLeases).
// Exit codes: 0 written, 1 nothing written (no outbox, damaged outbox, unwritable file), 2 bad arguments.
import Database from 'better-sqlite3';
import { existsSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../../../common/src/config.js';
import { OutboxFileWriter, type OutboxFileHeader } from '../../../proto/src/outbox-file.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { FieldlineError, GatewayError } from '../errors.js';
import { encodeLeasedBatch } from '../forward/encode.js';
import { SqliteOutbox, outboxOptions, type SqliteOutboxOptions } from '../outbox/sqlite-outbox.js';
import { GatewayClock, clockSource } from '../clock/clock.js';
import { retimeHook } from '../clock/retime.js';

export const OUTBOX_EXPORT_USAGE = `  fieldline-gateway outbox export FILE [--config F] [--json]
      write everything waiting in the outbox to FILE (e.g. on a USB stick), for
      \`fieldline-cloud outbox import FILE\`; the outbox keeps it until the cloud confirms it`;

export interface ExportSummary {
  file: string;
  gatewayId: string;
  batches: number;
  readings: number;
  firstSeq: number | null;
  lastSeq: number | null;
  bytes: number;
  /** Batches this run leased; the rest were leased before (by the forwarder or an earlier export). */
  leasedNow: number;
  /** Readings in the outbox that are not in the file (left unleased: the disk had no room for the lease). */
  notExported: number;
}

export async function outboxExportCli(argv: string[]): Promise<number> {
  let values: { config?: string | undefined; json?: boolean | undefined; help?: boolean | undefined };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { config: { type: 'string', short: 'c' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    }));
  } catch (err) {
    console.error(`fieldline-gateway outbox export: ${(err as Error).message}\nusage:\n${OUTBOX_EXPORT_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(`usage:\n${OUTBOX_EXPORT_USAGE}`);
    return 0;
  }
  const [file, ...extra] = positionals;
  if (file === undefined || extra.length > 0) {
    console.error(`fieldline-gateway outbox export: ${file === undefined ? 'say which FILE to write' : `unexpected argument ${JSON.stringify(extra[0])}`}\nusage:\n${OUTBOX_EXPORT_USAGE}`);
    return 2;
  }
  const target = resolve(file);
  if (existsSync(target) && statSync(target).isDirectory()) {
    console.error(`fieldline-gateway outbox export: ${target} is a directory; name the file to write, e.g. ${target}/backlog.flbx`);
    return 2;
  }
  if (!existsSync(dirname(target))) {
    console.error(`fieldline-gateway outbox export: the folder ${dirname(target)} does not exist (is the stick mounted?)`);
    return 2;
  }
  const cfg = loadConfig(gatewayConfigSchema, { file: values.config, envPrefix: GATEWAY_ENV_PREFIX });
  try {
    // Readings stamped on an untrusted clock leave on the stick now: corrected if this boot's clock
    // is trusted, otherwise flagged at once (no hold: the stick is the way out).
    const clock = new GatewayClock(clockSource(cfg.clock), cfg.clock);
    await clock.refresh();
    const s = exportOutbox(cfg, target, Date.now, retimeHook(clock, 0));
    if (values.json) console.log(JSON.stringify(s, null, 2));
    else console.log(describe(s));
    return 0;
  } catch (err) {
    if (!(err instanceof FieldlineError)) throw err;
    console.error(`fieldline-gateway outbox export: ${err.message} [${err.code}]`);
    return 1;
  }
}

/** Leases what is not leased yet, then writes every unacked batch to `file`; deletes nothing. */
export function exportOutbox(cfg: GatewayConfig, file: string, now: () => number = Date.now, retime?: SqliteOutboxOptions['retime']): ExportSummary {
  const opts = { ...outboxOptions(cfg.outbox, resolve(cfg.dataDir)), ...(retime ? { retime } : {}) };
  if (!existsSync(opts.path)) throw new GatewayError('FL_ERR_OUTBOX_MISSING', opts.path);
  checkIntact(opts.path);
  const outbox = new SqliteOutbox(opts);
  try {
    let leasedNow = 0;
    while (outbox.lease(cfg.kafka.batchMaxReadings)) leasedNow++;
    // The leases must be on the disk before their batches are in a file that may reach the cloud.
    outbox.syncNow();
    const depth = outbox.stats().depthValues;
    return outbox.withUnacked((batches, readingsOf) => {
      const header: OutboxFileHeader = {
        gatewayId: cfg.gatewayId,
        createdMs: now(),
        batches: batches.length,
        readings: batches.reduce((n, b) => n + b.values, 0),
        firstSeq: batches[0]?.seq ?? null,
        lastSeq: batches.at(-1)?.seq ?? null,
      };
      let writer: OutboxFileWriter | undefined;
      try {
        writer = new OutboxFileWriter(file, header);
        for (const b of batches) {
          const message = encodeLeasedBatch(cfg.gatewayId, { ...b, readings: readingsOf(b.seq) }, cfg.forward.encoding);
          writer.write({ seq: b.seq, createdMs: b.createdMs, readings: b.values, message });
        }
        const bytes = writer.finish();
        const { createdMs: _, ...counts } = header;
        return { file, ...counts, bytes, leasedNow, notExported: Math.max(0, depth - header.readings) };
      } catch (err) {
        writer?.abort();
        const code = (err as { code?: unknown }).code;
        if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) throw new GatewayError('FL_ERR_OUTBOX_EXPORT_WRITE', `${file}: ${(err as Error).message}`, { cause: err });
        throw err;
      }
    });
  } finally {
    outbox.close();
  }
}

/**
 * A read-write open of a file SQLite calls corrupt moves it aside (sqlite-outbox.ts); beside a
 * running gateway that must not happen, so the export looks first and refuses.
 */
function checkIntact(path: string): void {
  let verdict: unknown;
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    try {
      verdict = db.pragma('quick_check', { simple: true });
    } finally {
      db.close();
    }
  } catch (err) {
    verdict = (err as Error).message;
  }
  if (verdict !== 'ok') throw new GatewayError('FL_ERR_OUTBOX_DAMAGED', `${path}: ${String(verdict)}`);
}

function describe(s: ExportSummary): string {
  const seqs = s.firstSeq === null ? 'no batches' : `seqs ${s.firstSeq}-${s.lastSeq}`;
  const lines = [
    `exported ${s.batches} batch${s.batches === 1 ? '' : 'es'}, ${s.readings} readings (${seqs}) of gateway ${s.gatewayId}`,
    `file:    ${s.file} (${s.bytes} bytes)`,
    s.batches === 0 ? 'the outbox is empty: the file holds no readings' : `the outbox keeps them until the cloud confirms them; at the cloud: fieldline-cloud outbox import FILE`,
  ];
  if (s.notExported > 0) lines.push(`warning: ${s.notExported} readings were not leased (disk full?) and are not in the file; free space and export again`);
  return lines.join('\n');
}
