#!/usr/bin/env node
// fieldline-cloud sink|api|lake|alerts|all [--config cloud.yaml]
// fieldline-cloud token [--role …] [--scope …] [--fleet …] [--ttl …] [--subject …] [--audience …] (cli/token.ts)
// fieldline-cloud dlq list|replay [--code …] [--gateway …] [--dry-run] (cli/dlq.ts)
// fieldline-cloud outbox import FILE (cli/outbox.ts)
import { parseArgs } from 'node:util';
import { runCli } from '../../../common/src/cli.js';
import { loadConfig } from '../../../common/src/config.js';
import { Cloud, type Role } from '../cloud.js';
import { CLOUD_ENV_PREFIX, cloudConfigSchema, type CloudConfig } from '../config/schema.js';
import { DLQ_USAGE, dlqMain } from './dlq.js';
import { OUTBOX_USAGE, outboxMain } from './outbox.js';
import { TOKEN_USAGE, tokenMain } from './token.js';

const USAGE = `usage:
  fieldline-cloud sink|api|lake|alerts|all [--config cloud.yaml]
${TOKEN_USAGE}
${DLQ_USAGE}
${OUTBOX_USAGE}
Settings come from the YAML file and ${CLOUD_ENV_PREFIX}* environment variables
(${CLOUD_ENV_PREFIX}KAFKA__BROKERS=host:9092 sets kafka.brokers); DATABASE_URL sets database.url.`;

function loadCloudConfig(file: string | undefined): CloudConfig {
  const overrides = process.env.DATABASE_URL ? { database: { url: process.env.DATABASE_URL } } : {};
  return loadConfig(cloudConfigSchema, { file, envPrefix: CLOUD_ENV_PREFIX, overrides });
}

async function main(argv: string[]): Promise<number> {
  // dlq has options of its own, so it parses its arguments itself.
  if (argv[0] === 'dlq') return dlqMain(argv.slice(1), loadCloudConfig);
  if (argv[0] === 'token') return tokenMain(argv.slice(1), loadCloudConfig);
  if (argv[0] === 'outbox') return outboxMain(argv.slice(1), loadCloudConfig);
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
    },
    allowPositionals: true,
  });
  const cmd = positionals[0];
  if (values.help || !cmd) {
    console.log(USAGE);
    return values.help ? 0 : 2;
  }
  const cfg = loadCloudConfig(values.config);
  if (cmd !== 'sink' && cmd !== 'api' && cmd !== 'lake' && cmd !== 'alerts' && cmd !== 'all') {
    console.error(`unknown command: ${cmd}\n${USAGE}`);
    return 2;
  }
  const cloud = new Cloud(cfg, cmd as Role);
  await cloud.start();
  await new Promise<void>((done) => {
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
  await cloud.stop();
  return 0;
}

runCli(main);
