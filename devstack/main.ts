// npm run stack [-- --postgres] [--s3] [--kafka-port 9092] [--controller-port 9093] [--postgres-port 5432]
//                  [--s3-port 8333] [--dir DIR] [--fresh]
//
// The services Fieldline talks to, on this machine and on their default ports, so that
// `fieldline-gateway` and `fieldline-cloud` can run as separate processes against them: a Kafka
// broker (KRaft, single node, Apache's jars) with Fieldline's topics, with --postgres a
// PostgreSQL 15 server, and with --s3 an S3-compatible server (SeaweedFS) with a bucket for the
// lake. Kafka keeps its data in DIR/kafka and S3 in DIR/s3 across runs (--fresh starts both empty);
// the PostgreSQL server is a throwaway one tuned for development (fsync off), removed on exit.
// Runs until Ctrl-C or SIGTERM, then stops what it started.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startKafka, type KafkaBroker } from './kafka.js';
import { leaveSignalsToCaller, listenOn, repoRoot, waitForPort } from './net.js';
import { startPostgres, type PgServer } from './postgres.js';
import { startS3, type S3Server } from './seaweedfs.js';
import { FIELDLINE_TOPICS } from './topics.js';

const USAGE = `usage: npm run stack -- [--postgres] [--s3] [--kafka-port 9092] [--controller-port 9093]
                         [--postgres-port 5432] [--s3-port 8333] [--dir .fieldline/stack] [--fresh]`;

/** Created with --s3, for the lake. */
const S3_BUCKET = 'fieldline-lake';

class UsageError extends Error {}

interface StackOptions {
  kafkaPort: number;
  controllerPort: number;
  postgres: boolean;
  postgresPort: number;
  s3: boolean;
  s3Port: number;
  dir: string;
  fresh: boolean;
}

function parse(argv: string[]): StackOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      postgres: { type: 'boolean', default: false },
      'kafka-port': { type: 'string', default: '9092' },
      'controller-port': { type: 'string', default: '9093' },
      'postgres-port': { type: 'string', default: '5432' },
      s3: { type: 'boolean', default: false },
      's3-port': { type: 'string', default: '8333' },
      dir: { type: 'string' },
      fresh: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const port = (name: 'kafka-port' | 'controller-port' | 'postgres-port' | 's3-port'): number => {
    const raw = values[name];
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > 65535) throw new UsageError(`--${name} ${raw}: expected a port number 1-65535`);
    return n;
  };
  const opts = {
    kafkaPort: port('kafka-port'),
    controllerPort: port('controller-port'),
    postgres: values.postgres,
    postgresPort: port('postgres-port'),
    s3: values.s3,
    s3Port: port('s3-port'),
    dir: values.dir ?? join(repoRoot(), '.fieldline', 'stack'),
    fresh: values.fresh,
  };
  if (opts.kafkaPort === opts.controllerPort) throw new UsageError(`--kafka-port and --controller-port must differ (both ${opts.kafkaPort})`);
  return opts;
}

/** Fails early with the port's name, instead of a broker that times out starting on a taken port. */
async function ensureFree(port: number, what: string): Promise<void> {
  const server = await listenOn(port, '127.0.0.1').catch((err: NodeJS.ErrnoException) => {
    throw new UsageError(`port ${port} (${what}) is taken (${err.code ?? err.message}); choose another with --${what}`);
  });
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function main(argv: string[]): Promise<number> {
  let opts: StackOptions | 'help';
  try {
    opts = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (opts === 'help') {
    console.log(USAGE);
    return 0;
  }
  try {
    await ensureFree(opts.kafkaPort, 'kafka-port');
    await ensureFree(opts.controllerPort, 'controller-port');
    if (opts.postgres) await ensureFree(opts.postgresPort, 'postgres-port');
    if (opts.s3) await ensureFree(opts.s3Port, 's3-port');
  } catch (err) {
    console.error((err as Error).message);
    return 2;
  }

  const kafkaDir = join(opts.dir, 'kafka');
  const s3Dir = join(opts.dir, 's3');
  if (opts.fresh) {
    rmSync(kafkaDir, { recursive: true, force: true });
    rmSync(s3Dir, { recursive: true, force: true });
  }
  let kafka: KafkaBroker | undefined;
  let postgres: PgServer | undefined;
  let s3: S3Server | undefined;
  const stopAll = async (): Promise<void> => {
    await s3?.stop();
    await postgres?.destroy();
    await kafka?.stop();
  };
  // A Ctrl-C during start-up still stops what has started so far, cleanly.
  leaveSignalsToCaller();
  let stopping = false;
  const stopped = new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (stopping) return;
      stopping = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    console.log(`starting Kafka (KRaft, single node) on 127.0.0.1:${opts.kafkaPort}, data in ${kafkaDir}…`);
    kafka = await startKafka({ port: opts.kafkaPort, controllerPort: opts.controllerPort, dataDir: kafkaDir, logDir: opts.dir });
    await kafka.createTopics([...FIELDLINE_TOPICS]);
    if (opts.postgres && !stopping) {
      console.log(`starting PostgreSQL 15 on 127.0.0.1:${opts.postgresPort}…`);
      postgres = await startPostgres({ port: opts.postgresPort, logDir: opts.dir });
    }
    if (opts.s3 && !stopping) {
      console.log(`starting S3 (SeaweedFS) on 127.0.0.1:${opts.s3Port}, data in ${s3Dir} (the first run builds weed with Go: minutes)…`);
      s3 = await startS3({ port: opts.s3Port, dataDir: s3Dir, logDir: opts.dir, buckets: [S3_BUCKET] });
    }
  } catch (err) {
    console.error(`the stack did not start: ${(err as Error).message}`);
    await stopAll();
    return 1;
  }

  const lines = [
    '',
    'Fieldline dev stack is up.',
    `Kafka: ${kafka.bootstrap}`,
    `  topics      ${FIELDLINE_TOPICS.map((t) => t.name).join(', ')}`,
    `  log         ${kafka.logFile}`,
  ];
  if (postgres) lines.push(`PostgreSQL: ${postgres.url}`, `  log         ${postgres.logFile}`);
  if (s3) {
    lines.push(
      `S3: ${s3.endpoint} (SeaweedFS; path-style requests)`,
      `  region      ${s3.region}`,
      `  access key  ${s3.accessKeyId}`,
      `  secret key  ${s3.secretAccessKey}`,
      `  bucket      ${S3_BUCKET}`,
      `  log         ${s3.logFile}`,
    );
  }
  lines.push(
    'Run the gateway and the cloud against it, each in its own terminal:',
    `  FIELDLINE_GATEWAY_KAFKA__BROKERS=${kafka.bootstrap} node dist/gateway/src/cli/main.js --config gateway/gateway.sample.yaml`,
    `  FIELDLINE_CLOUD_KAFKA__BROKERS=${kafka.bootstrap} ${postgres ? `DATABASE_URL=${postgres.url} ` : ''}node dist/cloud-sink/src/cli/main.js all`,
    'Ctrl-C stops the stack.',
  );
  console.log(lines.join('\n'));

  // The services run in process groups of their own and do not keep this process alive; the
  // watchdog does, and it notices a broker that went away (killed, out of memory) instead of
  // pretending the stack is still up.
  const broker = kafka;
  let misses = 0;
  let watchdog: NodeJS.Timeout | undefined;
  const lost = new Promise<'lost'>((resolve) => {
    watchdog = setInterval(() => {
      void waitForPort(broker.port, '127.0.0.1', 0).then(
        () => void (misses = 0),
        () => {
          if (++misses >= 3 && !stopping) resolve('lost');
        },
      );
    }, 2_000);
  });
  const why = await Promise.race([stopped.then(() => 'signal' as const), lost]);
  clearInterval(watchdog);
  if (why === 'lost') console.error(`Kafka stopped answering on ${broker.bootstrap}; see ${broker.logFile}`);
  console.log('stopping…');
  await stopAll();
  console.log('stopped');
  return why === 'lost' ? 1 : 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  },
);
