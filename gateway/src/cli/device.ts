// fieldline-gateway device add | revoke | list: enrol MQTT devices with the gateway's own CA
// (pki/enrol.ts). Works with the gateway stopped or running: the files under <dataDir> are the
// shared state. Exit codes: 0 done, 1 refused (the error code says why), 2 bad arguments.
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { loadConfig } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { FieldlineError } from '../errors.js';
import type { PkiCertificateRow } from '../pki/store.js';

export const DEVICE_USAGE = `usage:
  fieldline-gateway device add ID [--out DIR] [--days N] [--renew] [--config F]
      issue a client certificate for device ID from the gateway's CA (made if missing) and enrol it;
      writes DIR/ID.crt, DIR/ID.key, DIR/ca.crt and DIR/ID.pem (certificate + key) — DIR defaults to .
  fieldline-gateway device revoke ID [--reason R] [--config F]
      revoke every certificate of ID: refused from its next connection on; rewrites pki/crl.pem
  fieldline-gateway device list [--json] [--config F]
      every certificate issued, with its serial, expiry and state (valid, expired, revoked)`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  out: { type: 'string' },
  days: { type: 'string' },
  renew: { type: 'boolean' },
  reason: { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

export async function deviceCli(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    console.error(`device: ${(err as Error).message}\n${DEVICE_USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [cmd, id, ...extra] = positionals;
  if (values.help || cmd === undefined) {
    console.log(DEVICE_USAGE);
    return values.help ? 0 : 2;
  }
  const needsId = cmd === 'add' || cmd === 'revoke';
  if (!['add', 'revoke', 'list'].includes(cmd) || (needsId && id === undefined) || extra.length > 0 || (!needsId && id !== undefined)) {
    console.error(`device: unexpected ${JSON.stringify(positionals.join(' '))}\n${DEVICE_USAGE}`);
    return 2;
  }
  const cfg = loadConfig(gatewayConfigSchema, { file: values.config, envPrefix: GATEWAY_ENV_PREFIX });
  try {
    if (cmd === 'add') return await add(cfg, id!, values);
    if (cmd === 'revoke') return await revoke(cfg, id!, values.reason);
    return await list(cfg, values.json ?? false);
  } catch (err) {
    if (!(err instanceof FieldlineError)) throw err;
    console.error(`device ${cmd}: ${err.code}: ${err.message}`);
    return err.code === 'FL_ERR_PKI_BAD_ARGUMENT' ? 2 : 1;
  }
}

async function add(cfg: GatewayConfig, id: string, values: { out?: string; days?: string; renew?: boolean }): Promise<number> {
  let days: number | undefined;
  if (values.days !== undefined) {
    days = Number(values.days);
    if (!/^\d+$/.test(values.days) || days < 1) {
      console.error(`device add: --days: expected a whole number of days ≥ 1 (got ${JSON.stringify(values.days)})`);
      return 2;
    }
  }
  const { addDevice } = await import('../pki/enrol.js');
  const r = await addDevice({ dataDir: cfg.dataDir, gatewayId: cfg.gatewayId, deviceId: id, outDir: values.out ?? '.', days, renew: values.renew ?? false });
  if (r.caCreated) console.log(`created the gateway's device CA under ${cfg.dataDir}/pki — back it up (docs/OPERATIONS.md, "Enrolling devices")`);
  console.log(`issued a certificate to ${id}: serial ${r.serial}, valid until ${r.notAfter}`);
  console.log(`  certificate  ${r.files.cert}\n  key          ${r.files.key}\n  CA           ${r.files.ca}\n  bundle       ${r.files.bundle} (certificate + key)`);
  const port = cfg.mqtt.tls.port;
  console.log(`publish with:\n  mosquitto_pub -h <gateway> -p ${port} --cafile ${r.files.ca} --cert ${r.files.cert} --key ${r.files.key} -q 1 \\
    -t devices/${id}/telemetry -m '{"metrics":{"temperature":21.5}}'`);
  if (!cfg.mqtt.tls.enabled) console.log('note: mqtt.tls.enabled is false in this configuration; devices can use the certificate once it is on');
  return 0;
}

async function revoke(cfg: GatewayConfig, id: string, reason: string | undefined): Promise<number> {
  const { revokeDevice } = await import('../pki/enrol.js');
  const r = await revokeDevice(cfg.dataDir, id, reason);
  if (r.revoked.length === 0) console.log(`${id}: every certificate was already revoked`);
  for (const c of r.revoked) console.log(`revoked ${id} certificate ${c.serial}${reason ? ` (${reason})` : ''}`);
  console.log(`CRL: ${r.crlFile}; a running gateway refuses ${id} from its next connection on`);
  return 0;
}

async function list(cfg: GatewayConfig, json: boolean): Promise<number> {
  const { listDevices } = await import('../pki/enrol.js');
  const rows = listDevices(cfg.dataDir);
  if (json) {
    console.log(JSON.stringify({ devices: rows }, null, 2));
    return 0;
  }
  if (rows.length === 0) {
    console.log(`no device certificates issued yet (${cfg.dataDir}/pki)`);
    return 0;
  }
  console.log(table(rows));
  return 0;
}

function table(rows: PkiCertificateRow[]): string {
  const head = ['DEVICE', 'SERIAL', 'NOT AFTER', 'STATE'];
  const body = rows.map((r) => [r.deviceId, r.serial, r.notAfter.slice(0, 10), r.state + (r.revokedAt ? ` ${r.revokedAt.slice(0, 19)}Z${r.reason ? ` (${r.reason})` : ''}` : '')]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n');
}
