// fieldline-gateway provision: what a field tech types once per gateway. It names the gateway, points
// it at the cloud (Kafka brokers, TLS files, SASL login), sets the local admin token, and writes the
// config file through config/file.ts (checked like start-up, atomic, previous file kept as .bak).
// In a terminal it asks for what is missing, offering the file's current values; with
// --non-interactive (or without a terminal) it never asks and names the flag that is missing.
// Exit codes: 0 written, 2 bad or missing arguments, 78 the result would be an invalid config.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { editConfigFile, readRawConfig, writeConfigAtomic } from '../config/file.js';
import { isTree, type Tree } from '../config/merge-patch.js';
import { isDeviceId } from '../ingest/device-id.js';

export const DEFAULT_CONFIG_FILE = '/etc/fieldline/gateway.yaml';
const DEFAULT_DATA_DIR = '/var/lib/fieldline';

export const PROVISION_USAGE = `usage: fieldline-gateway provision [--config ${DEFAULT_CONFIG_FILE}] [options]
  --gateway-id ID          the gateway's name in the cloud (1-128 of A-Z a-z 0-9 _ . : -)
  --brokers H:P[,H:P]      Kafka bootstrap servers
  --kafka-ca FILE          CA certificate (PEM) that signs the brokers' certificates: turns TLS on
  --kafka-cert FILE        client certificate (PEM), for brokers that want mutual TLS
  --kafka-key FILE         the client certificate's private key (PEM)
  --sasl-mechanism M       PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512: turns the SASL login on
  --sasl-username U        --sasl-password P
  --admin-token T          the local API token (16+ characters); generated and printed once when not given
  --data-dir DIR           where the outbox and certificates live (default: the file's, else ${DEFAULT_DATA_DIR})
  --no-ca                  do not create the device CA
  --yes                    write without asking for confirmation
  --non-interactive        never ask; fail naming a missing flag
TLS files are copied to <data-dir>/certs/ (mode 0600). The file is created when missing; otherwise only
the settings above change, and the previous file is kept as <file>.bak.`;

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  'gateway-id': { type: 'string' },
  brokers: { type: 'string' },
  'kafka-ca': { type: 'string' },
  'kafka-cert': { type: 'string' },
  'kafka-key': { type: 'string' },
  'sasl-mechanism': { type: 'string' },
  'sasl-username': { type: 'string' },
  'sasl-password': { type: 'string' },
  'admin-token': { type: 'string' },
  'data-dir': { type: 'string' },
  'no-ca': { type: 'boolean' },
  yes: { type: 'boolean', short: 'y' },
  'non-interactive': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const SASL_MECHANISMS = ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'];

/** What provision settles on before writing; undefined: leave the file's value. */
export interface ProvisionAnswers {
  gatewayId: string;
  brokers: string;
  dataDir: string;
  /** undefined: leave the file's TLS settings; null: TLS off. */
  tls?: { ca: string; cert?: string | undefined; key?: string | undefined } | null | undefined;
  /** undefined: leave the file's SASL settings; null: SASL off. */
  sasl?: { mechanism: string; username: string; password: string } | null | undefined;
  adminToken?: string | undefined;
  /** The token was made here: print it, once. */
  tokenGenerated: boolean;
}

class UsageError extends Error {}

export async function provisionCli(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({ args: argv, options: OPTIONS, allowPositionals: false }));
  } catch (err) {
    console.error(`provision: ${(err as Error).message}\n${PROVISION_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(PROVISION_USAGE);
    return 0;
  }
  const file = resolve(values.config ?? DEFAULT_CONFIG_FILE);
  const existing = readRawConfig(file);
  const interactive = !values['non-interactive'] && Boolean(process.stdin.isTTY && process.stdout.isTTY);
  let answers: ProvisionAnswers;
  try {
    answers = await settle(values, existing.raw, interactive);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`provision: ${err.message}`);
    return 2;
  }
  if (interactive && !values.yes) {
    const { confirm } = await import('@inquirer/prompts');
    if (!(await confirm({ message: `Write ${file}?`, default: true }))) {
      console.log('nothing written');
      return 1;
    }
  }
  const copied = copyTlsFiles(answers);
  const edit = editConfigFile(file, provisionPatch(answers, existing.raw, copied));
  const pki = await provisionPki(answers.dataDir, answers.gatewayId, !values['no-ca']);
  console.log(summary(file, existing.text === null, edit.backup, answers, copied, pki));
  return 0;
}

type Values = { [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'boolean' ? boolean : string };

/** Flags first, then (in a terminal) answers to prompts offering the file's values, then the file's values. */
async function settle(values: Values, raw: Tree, interactive: boolean): Promise<ProvisionAnswers> {
  const kafka = isTree(raw.kafka) ? raw.kafka : {};
  const rd = isTree(kafka.rdkafka) ? kafka.rdkafka : {};
  const api = isTree(raw.api) ? raw.api : {};
  const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
  const fileId = str(raw.gatewayId);
  const fileBrokers = str(kafka.brokers);
  // Only the required values decide whether to ask: a script that gives them all never waits on a prompt.
  const missing = [
    ...(values['gateway-id'] ?? fileId ? [] : ['--gateway-id']),
    ...(values.brokers ?? fileBrokers ? [] : ['--brokers']),
  ];
  const ask = interactive && missing.length > 0;
  if (!ask && missing.length) {
    throw new UsageError(`${missing.join(' and ')} ${missing.length > 1 ? 'are' : 'is'} required: the config file has no value and ${interactive ? '' : 'this is not a terminal (or --non-interactive was given), so nothing is asked'}`.trim());
  }
  const prompts = ask ? await import('@inquirer/prompts') : null;
  const pick = async (flag: string | undefined, fallback: string | undefined, message: string, validate: (v: string) => true | string): Promise<string | undefined> => {
    if (flag !== undefined) {
      const ok = validate(flag);
      if (ok !== true) throw new UsageError(ok);
      return flag;
    }
    if (!prompts) return fallback;
    return prompts.input({ message, ...(fallback ? { default: fallback } : {}), validate: (v) => validate(v.trim()) });
  };
  const gatewayId = (await pick(values['gateway-id'], fileId, 'Gateway id', (v) => (isDeviceId(v) ? true : `--gateway-id: expected 1-128 characters of A-Z a-z 0-9 _ . : - (got ${JSON.stringify(v)})`)))!.trim();
  const brokers = (await pick(values.brokers, fileBrokers, 'Kafka brokers (host:port, comma-separated)', checkBrokers))!.trim();
  const dataDir = resolve((await pick(values['data-dir'], str(raw.dataDir) ?? DEFAULT_DATA_DIR, 'Data folder (outbox, certificates)', (v) => (v ? true : '--data-dir: expected a folder')))!);

  let tls: ProvisionAnswers['tls'];
  const pem = (flag: string) => (v: string) => (readablePem(v) ? true : `${flag}: expected a readable PEM file (got ${JSON.stringify(v)})`);
  const useTls = values['kafka-ca'] !== undefined ? true
    : prompts ? await prompts.confirm({ message: 'Connect to Kafka over TLS?', default: tlsIn(rd) }) : undefined;
  if (useTls) {
    const ca = (await pick(values['kafka-ca'], str(rd['ssl.ca.location']), 'CA certificate file (PEM)', pem('--kafka-ca')))!;
    const cert = await pick(values['kafka-cert'], prompts ? str(rd['ssl.certificate.location']) : undefined, 'Client certificate file (PEM; empty: none)', (v) => (v === '' ? true : pem('--kafka-cert')(v)));
    const key = cert ? await pick(values['kafka-key'], prompts ? str(rd['ssl.key.location']) : undefined, 'Client key file (PEM)', pem('--kafka-key')) : undefined;
    if (cert && !key) throw new UsageError('--kafka-key is required with --kafka-cert');
    if (!cert && values['kafka-key']) throw new UsageError('--kafka-cert is required with --kafka-key');
    tls = { ca, ...(cert ? { cert, key } : {}) };
  } else if (useTls === false) {
    tls = null;
  }
  if (!useTls && (values['kafka-cert'] || values['kafka-key'])) {
    throw new UsageError('--kafka-ca is required with --kafka-cert/--kafka-key (the CA that signs the brokers\' certificates)');
  }

  let sasl: ProvisionAnswers['sasl'];
  const useSasl = values['sasl-mechanism'] !== undefined || values['sasl-username'] !== undefined ? true
    : prompts ? await prompts.confirm({ message: 'Log in to Kafka with SASL?', default: saslIn(rd) }) : undefined;
  if (useSasl === false) sasl = null;
  if (useSasl) {
    const mechanism = (await pick(values['sasl-mechanism'], str(rd['sasl.mechanisms']) ?? 'SCRAM-SHA-512', `SASL mechanism (${SASL_MECHANISMS.join(', ')})`,
      (v) => (SASL_MECHANISMS.includes(v) ? true : `--sasl-mechanism: expected one of ${SASL_MECHANISMS.join(', ')} (got ${JSON.stringify(v)})`)))!;
    const username = (await pick(values['sasl-username'], str(rd['sasl.username']), 'SASL username', (v) => (v ? true : '--sasl-username: expected a user name')))!;
    let password = values['sasl-password'];
    if (password === undefined && prompts) password = await prompts.password({ message: 'SASL password', mask: '*', validate: (v) => (v ? true : 'expected a password') });
    password ??= str(rd['sasl.password']);
    if (!username) throw new UsageError('--sasl-username is required with --sasl-mechanism');
    if (!password) throw new UsageError('--sasl-password is required with --sasl-mechanism');
    sasl = { mechanism, username, password };
  }

  const given = values['admin-token'];
  if (given !== undefined && given.length < 16) throw new UsageError(`--admin-token: expected at least 16 characters (got ${given.length})`);
  const kept = str(api.adminToken);
  const adminToken = given ?? kept ?? randomBytes(24).toString('base64url');
  return { gatewayId, brokers, dataDir, tls, sasl, adminToken, tokenGenerated: given === undefined && kept === undefined };
}

function tlsIn(rd: Tree): boolean {
  return rd['security.protocol'] === 'SSL' || rd['security.protocol'] === 'SASL_SSL';
}

function saslIn(rd: Tree): boolean {
  return rd['security.protocol'] === 'SASL_PLAINTEXT' || rd['security.protocol'] === 'SASL_SSL';
}

function checkBrokers(v: string): true | string {
  const bad = v.split(',').map((b) => b.trim()).find((b) => !/^[A-Za-z0-9.\-_[\]:]+:\d{1,5}$/.test(b));
  return bad === undefined ? true : `--brokers: expected host:port[,host:port…] (got ${JSON.stringify(bad)})`;
}

function readablePem(path: string): boolean {
  try {
    return /-----BEGIN [A-Z0-9 ]+-----/.test(readFileSync(path, 'utf8'));
  } catch {
    return false;
  }
}

interface CopiedTls {
  ca?: string;
  cert?: string;
  key?: string;
}

/** Copies the TLS files into <dataDir>/certs (0700 folder, 0600 files), where the service user can read them. */
function copyTlsFiles(a: ProvisionAnswers): CopiedTls {
  if (!a.tls) return {};
  const dir = join(a.dataDir, 'certs');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const out: CopiedTls = {};
  for (const [kind, src] of [['ca', a.tls.ca], ['cert', a.tls.cert], ['key', a.tls.key]] as const) {
    if (!src) continue;
    const dest = join(dir, `kafka-${kind}.pem`);
    writeConfigAtomic(dest, readFileSync(src, 'utf8'), 0);
    out[kind] = dest;
  }
  return out;
}

/** The merge patch provision writes: only the keys it owns, so the rest of the file stays as it was. */
export function provisionPatch(a: ProvisionAnswers, raw: Tree, copied: CopiedTls): Tree {
  const kafka = isTree(raw.kafka) ? raw.kafka : {};
  const oldRd = isTree(kafka.rdkafka) ? kafka.rdkafka : {};
  const rdkafka: Tree = {};
  // What was decided replaces the file's settings of that kind; what was not stays as it is.
  for (const k of Object.keys(oldRd)) {
    if ((a.tls !== undefined && k.startsWith('ssl.')) || (a.sasl !== undefined && k.startsWith('sasl.'))) rdkafka[k] = null;
  }
  if (a.tls !== undefined || a.sasl !== undefined) {
    const tls = a.tls === undefined ? tlsIn(oldRd) : a.tls !== null;
    const sasl = a.sasl === undefined ? saslIn(oldRd) : a.sasl !== null;
    rdkafka['security.protocol'] = tls && sasl ? 'SASL_SSL' : tls ? 'SSL' : sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  }
  if (copied.ca) rdkafka['ssl.ca.location'] = copied.ca;
  if (copied.cert) rdkafka['ssl.certificate.location'] = copied.cert;
  if (copied.key) rdkafka['ssl.key.location'] = copied.key;
  if (a.sasl) {
    rdkafka['sasl.mechanisms'] = a.sasl.mechanism;
    rdkafka['sasl.username'] = a.sasl.username;
    rdkafka['sasl.password'] = a.sasl.password;
  }
  return {
    gatewayId: a.gatewayId,
    dataDir: a.dataDir,
    kafka: { brokers: a.brokers, ...(Object.keys(rdkafka).length ? { rdkafka } : {}) },
    api: { adminToken: a.adminToken },
  };
}

export interface PkiResult {
  caCertFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  created: boolean;
}

/**
 * The device CA and the MQTT TLS listener's certificate (gateway/src/pki/), made once and kept on
 * later runs; loaded only when wanted, so --no-ca never touches the crypto code.
 */
export async function provisionPki(dataDir: string, gatewayId: string, wanted: boolean): Promise<PkiResult | null> {
  if (!wanted) return null;
  const { ensureGatewayPki } = await import('../pki/ca.js');
  return ensureGatewayPki(resolve(dataDir), gatewayId);
}

function summary(file: string, created: boolean, backup: string | null, a: ProvisionAnswers, copied: CopiedTls, pki: PkiResult | null): string {
  const lines = [
    `${created ? 'created' : 'updated'} ${file}${backup ? ` (previous file kept as ${backup})` : ''}`,
    `  gateway id      ${a.gatewayId}`,
    `  data folder     ${a.dataDir}`,
    `  kafka brokers   ${a.brokers}`,
    `  kafka TLS       ${a.tls === undefined ? 'unchanged' : copied.ca ? `on; CA ${copied.ca}${copied.cert ? `, client certificate ${copied.cert}, key ${copied.key}` : ''}` : 'off'}`,
    `  kafka SASL      ${a.sasl === undefined ? 'unchanged' : a.sasl ? `${a.sasl.mechanism} as ${a.sasl.username}` : 'off'}`,
    `  device CA       ${pki ? `${pki.created ? 'created' : 'kept'}: ${pki.caCertFile}` : 'not created'}`,
  ];
  if (a.tokenGenerated) {
    lines.push('', `admin token (shown once; the commissioning page and the CLI ask for it): ${a.adminToken}`);
  } else {
    lines.push('', 'admin token: unchanged (in the file as api.adminToken)');
  }
  lines.push(
    '',
    'next:',
    '  systemctl restart fieldline-gateway      (or restart the container) so the gateway runs with these settings',
    `  fieldline-gateway status --config ${file}  to check the adapters, the cloud link and the backlog`,
  );
  return lines.join('\n');
}
