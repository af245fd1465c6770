#!/usr/bin/env node
// fieldline-cloud sink|api|lake|alerts|all [--config cloud.yaml]
// fieldline-cloud token --role viewer|operator|admin [--ttl SECONDS] [--subject NAME]
// fieldline-cloud dlq list|replay [--code …] [--gateway …] [--dry-run] (cli/dlq.ts)
import { parseArgs } from 'node:util';
import { runCli } from '../../../common/src/cli.js';
import { loadConfig } from '../../../common/src/config.js';
import { ROLE_SCOPES, type Role as TokenRole } from '../api/auth.js';
import { Cloud, type Role } from '../cloud.js';
import { CLOUD_ENV_PREFIX, cloudConfigSchema, type CloudConfig } from '../config/schema.js';
import { DLQ_USAGE, dlqMain } from './dlq.js';

const USAGE = `usage:
  fieldline-cloud sink|api|lake|alerts|all [--config cloud.yaml]
  fieldline-cloud token --role viewer|operator|admin [--ttl SECONDS] [--subject NAME] [--config cloud.yaml]
${DLQ_USAGE}
Settings come from the YAML file and ${CLOUD_ENV_PREFIX}* environment variables
(${CLOUD_ENV_PREFIX}KAFKA__BROKERS=host:9092 sets kafka.brokers); DATABASE_URL sets database.url.`;

function loadCloudConfig(file: string | undefined): CloudConfig {
  const overrides = process.env.DATABASE_URL ? { database: { url: process.env.DATABASE_URL } } : {};
  return loadConfig(cloudConfigSchema, { file, envPrefix: CLOUD_ENV_PREFIX, overrides });
}

async function main(argv: string[]): Promise<number> {
  // dlq has options of its own, so it parses its arguments itself.
  if (argv[0] === 'dlq') return dlqMain(argv.slice(1), loadCloudConfig);
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      config: { type: 'string', short: 'c' },
      role: { type: 'string', default: 'viewer' },
      ttl: { type: 'string', default: String(24 * 3600) },
      subject: { type: 'string', default: 'cli' },
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
  if (cmd === 'token') {
    if (!(values.role in ROLE_SCOPES)) {
      console.error(`--role ${values.role}: expected one of ${Object.keys(ROLE_SCOPES).join(', ')}`);
      return 2;
    }
    const ttl = Number(values.ttl);
    if (!Number.isInteger(ttl) || ttl <= 0) {
      console.error(`--ttl ${values.ttl}: expected a positive number of seconds`);
      return 2;
    }
    const cloud = new Cloud(cfg, 'api');
    console.log(await cloud.auth.issue({ subject: values.subject, role: values.role as TokenRole, ttlSeconds: ttl }));
    return 0;
  }
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
