#!/usr/bin/env node
// fieldline-gateway --config gateway.yaml            run the gateway
// fieldline-gateway outbox stats [--config F]        what waits in the outbox (works offline)
// fieldline-gateway outbox export FILE               the backlog to one file for a USB stick (cli/outbox.ts)
// fieldline-gateway status                           one screen for the field tech (cli/status.ts)
// fieldline-gateway modbus scan | read …              commissioning: find slaves, read registers (cli/modbus.ts)
// fieldline-gateway hash-password < password         an scrypt hash for mqtt.credentials
// fieldline-gateway provision [--config F] …          name the gateway, set its cloud link (cli/provision.ts)
// fieldline-gateway device add | revoke | list        enrol MQTT devices with the gateway's CA (cli/device.ts)
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { runCli } from '../../../common/src/cli.js';
import { loadConfig } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { oldestAgeMs } from '../outbox/outbox.js';

const USAGE = `usage:
  fieldline-gateway [--config gateway.yaml]       run the gateway
  fieldline-gateway outbox stats [--config F]     show what waits in the outbox
  fieldline-gateway outbox export FILE [--config F] [--json]    the backlog to one file (USB stick)
  fieldline-gateway status [--config F] [--api URL] [--token T] [--json]   adapters, link, backlog, loss
  fieldline-gateway modbus scan|read …            find Modbus slaves, test-read registers (modbus --help)
  fieldline-gateway hash-password < FILE          read a password on stdin, print its scrypt hash for mqtt.credentials
  fieldline-gateway provision [--config F] …      set gateway id, Kafka brokers/TLS/SASL, admin token (provision --help)
  fieldline-gateway device add|revoke|list …      enrol MQTT devices: client certificates from the gateway's CA (device --help)
Settings come from the YAML file and ${GATEWAY_ENV_PREFIX}* environment variables
(${GATEWAY_ENV_PREFIX}KAFKA__BROKERS=host:9092 sets kafka.brokers).`;

async function main(argv: string[]): Promise<number> {
  // The Modbus tools take options of their own. Each tool is loaded only when asked for: the running
  // gateway would otherwise hold their code (cli-progress, the provisioning prompts) all its life.
  if (argv[0] === 'modbus') return (await import('./modbus.js')).modbusCli(argv.slice(1));
  if (argv[0] === 'hash-password') return hashPasswordCmd();
  if (argv[0] === 'provision') return (await import('./provision.js')).provisionCli(argv.slice(1));
  if (argv[0] === 'device') return (await import('./device.js')).deviceCli(argv.slice(1));
  if (argv[0] === 'outbox' && argv[1] === 'export') return (await import('./outbox.js')).outboxExportCli(argv.slice(2));
  if (argv[0] === 'status') return (await import('./status.js')).statusCli(argv.slice(1));
  const { values, positionals } = parseArgs({
    args: argv,
    options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const cfg = loadConfig(gatewayConfigSchema, { file: values.config, envPrefix: GATEWAY_ENV_PREFIX });
  const [cmd, sub] = positionals;
  if (cmd === undefined) return run(cfg, values.config);
  if (cmd === 'outbox' && sub === 'stats') return outboxStats(cfg);
  console.error(`unknown command: ${positionals.join(' ')}\n${USAGE}`);
  return 2;
}

// The gateway and the outbox are loaded only by the commands that use them: the field-tech
// commands start twice as fast without MQTT, Kafka and SQLite.
async function run(cfg: GatewayConfig, configFile: string | undefined): Promise<number> {
  const { Gateway } = await import('../gateway.js');
  const gw = new Gateway(cfg, undefined, { configFile: configFile === undefined ? undefined : resolve(configFile) });
  await gw.start();
  const stopped = new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  // READY=1 after the signal handlers are in place: systemd may send SIGTERM the moment it has it.
  const { systemdNotifier, gatewayHealthy, gatewayStatusLine } = await import('../health/watchdog.js');
  const sd = systemdNotifier({ env: process.env, healthy: () => gatewayHealthy(gw), status: () => gatewayStatusLine(gw) });
  await sd.ready(gatewayStatusLine(gw));
  await stopped;
  await sd.stopping('stopping: flushing the outbox');
  await gw.stop();
  return 0;
}

async function outboxStats(cfg: GatewayConfig): Promise<number> {
  const { SqliteOutbox, outboxOptions } = await import('../outbox/sqlite-outbox.js');
  const { path } = outboxOptions(cfg.outbox, resolve(cfg.dataDir));
  if (!existsSync(path)) {
    console.error(`no outbox at ${path} yet (the gateway creates it at its first start; check --config / dataDir)`);
    return 1;
  }
  // Read-only: safe beside a running gateway, and never "repairs" a file it only looks at.
  const outbox = new SqliteOutbox({ path, readOnly: true });
  const s = outbox.stats();
  outbox.close();
  console.log(JSON.stringify({ ...s, oldestAgeMs: oldestAgeMs(s) }, null, 2));
  return 0;
}

async function hashPasswordCmd(): Promise<number> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One line; the newline a shell or `echo` adds is not part of the password.
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (!password) {
    console.error('hash-password: expected the password on stdin, e.g. `fieldline-gateway hash-password < secret.txt`');
    return 2;
  }
  const { hashPassword } = await import('../ingest/mqtt/credentials.js');
  console.log(hashPassword(password));
  return 0;
}

runCli(main);
