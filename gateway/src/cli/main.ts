#!/usr/bin/env node
// fieldline-gateway --config gateway.yaml            run the gateway
// fieldline-gateway outbox stats [--config F]        what waits in the outbox (works offline)
import { parseArgs } from 'node:util';
import { join, resolve } from 'node:path';
import { runCli } from '../../../common/src/cli.js';
import { loadConfig } from '../../../common/src/config.js';
import { GATEWAY_ENV_PREFIX, gatewayConfigSchema, type GatewayConfig } from '../config/schema.js';
import { Gateway } from '../gateway.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';

const USAGE = `usage:
  fieldline-gateway [--config gateway.yaml]       run the gateway
  fieldline-gateway outbox stats [--config F]     show what waits in the outbox
Settings come from the YAML file and ${GATEWAY_ENV_PREFIX}* environment variables
(${GATEWAY_ENV_PREFIX}KAFKA__BROKERS=host:9092 sets kafka.brokers).`;

async function main(argv: string[]): Promise<number> {
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
  if (cmd === undefined) return run(cfg);
  if (cmd === 'outbox' && sub === 'stats') return outboxStats(cfg);
  console.error(`unknown command: ${positionals.join(' ')}\n${USAGE}`);
  return 2;
}

async function run(cfg: GatewayConfig): Promise<number> {
  const gw = new Gateway(cfg);
  await gw.start();
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await gw.stop();
  return 0;
}

function outboxStats(cfg: GatewayConfig): number {
  const outbox = new SqliteOutbox({ path: cfg.outbox.path ?? join(resolve(cfg.dataDir), 'outbox.db') });
  const s = outbox.stats();
  outbox.close();
  console.log(JSON.stringify({ ...s, oldestAgeMs: s.oldestMs === null ? 0 : Date.now() - s.oldestMs }, null, 2));
  return 0;
}

runCli(main);
