/**
 * A real Apache Kafka broker for tests: one JVM running broker and controller together (KRaft),
 * started from the jars that Maven fetches into the cache with devstack/kafka/pom.xml.
 *
 * Start-up is about two seconds once a class-data archive exists: the first broker to stop cleanly
 * writes one (kafka.jsa beside the jars) and every later JVM maps it instead of loading and
 * verifying ~4000 classes again.
 */
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildCached,
  cacheDir,
  defaultLogDir,
  freePorts,
  removeOnExit,
  repoRoot,
  run,
  runOk,
  spawnLogged,
  waitForPort,
  waitUntil,
  type LoggedProcess,
} from './net.js';

export interface KafkaTopic {
  name: string;
  /** Default 3, the broker's num.partitions. */
  partitions?: number;
  /** Topic-level configs, e.g. { 'cleanup.policy': 'compact' }. */
  config?: Record<string, string>;
}

export interface KafkaBroker {
  /** host:port for bootstrap.servers. */
  bootstrap: string;
  port: number;
  controllerPort: number;
  /** Holds server.properties and the log dirs; kept across stop() and start(). */
  dataDir: string;
  /** Broker output (stdout and stderr, every restart appended). */
  logFile: string;
  /** SIGTERM (a clean, controlled shutdown), then SIGKILL if it takes longer than 30 s. Data is kept. */
  stop(): Promise<void>;
  /** Starts the broker again after stop(): same ports, same data. Does nothing while it runs. */
  start(): Promise<void>;
  /** Creates the topics (existing ones are left as they are) and waits until every partition has a leader. */
  createTopics(topics: KafkaTopic[]): Promise<void>;
  /** stop(), then delete dataDir if startKafka created it. */
  destroy(): Promise<void>;
}

export interface StartKafkaOptions {
  /** Broker listener port; default a free port below the ephemeral range (see FreePortOptions.stable). */
  port?: number;
  controllerPort?: number;
  /** Default: a new directory under the OS temp dir, removed by destroy(). */
  dataDir?: string;
  /** Where the broker log goes; default defaultLogDir(). */
  logDir?: string;
  topics?: KafkaTopic[];
  /** Extra broker settings, written to server.properties after the defaults. */
  brokerConfig?: Record<string, string>;
  /** JVM options replacing the start-up-tuned defaults (heap, GC, JIT), e.g. for benchmarks. */
  jvmOptions?: string[];
  startTimeoutMs?: number;
}

const KAFKA_SUPPORT_DIR = (): string => join(repoRoot(), 'devstack', 'kafka');
const CLASS_ARCHIVE = 'kafka.jsa';

/** Fast start for a short-lived broker: small heap, one GC thread, C1 only. */
const DEFAULT_JVM_OPTIONS = ['-Xms64m', '-Xmx512m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Xshare:auto'];

/** $FIELDLINE_CACHE/kafka-libs, defaulting to <repo>/.cache/kafka-libs. */
export function kafkaLibDir(): string {
  return join(cacheDir(), 'kafka-libs');
}

/**
 * Makes sure the broker jars are in kafkaLibDir() and returns that directory. The marker file
 * (.fetched) holds the SHA-256 of the pom the jars came from, so editing the pom fetches again;
 * scripts/ci-install.sh writes the same marker.
 */
export async function ensureKafkaJars(): Promise<string> {
  const pom = join(KAFKA_SUPPORT_DIR(), 'pom.xml');
  const digest = createHash('sha256').update(readFileSync(pom)).digest('hex');
  return buildCached(kafkaLibDir(), digest, async (scratch) => {
    const args = ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-DoutputDirectory=${scratch}`];
    await runOk('mvn', args, { timeoutMs: 15 * 60_000 }).catch((err: unknown) => {
      throw new Error(`fetching Kafka's jars with Maven failed: ${(err as Error).message}`);
    });
  });
}

/** Java's view of a property value: backslashes would be read as escapes. */
function properties(entries: Record<string, string>): string {
  return Object.entries(entries)
    .map(([key, value]) => `${key}=${value.replace(/\\/g, '\\\\')}`)
    .join('\n')
    .concat('\n');
}

function brokerProperties(port: number, controllerPort: number, logDirs: string, extra: Record<string, string>): string {
  return properties({
    'process.roles': 'broker,controller',
    'node.id': '1',
    // Static voters keep the controller's address out of the formatted data: the config alone decides.
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: `PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}`,
    'advertised.listeners': `PLAINTEXT://127.0.0.1:${port}`,
    'listener.security.protocol.map': 'PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT',
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'log.dirs': logDirs,
    'num.partitions': '3',
    'auto.create.topics.enable': 'true',
    'default.replication.factor': '1',
    'min.insync.replicas': '1',
    'offsets.topic.replication.factor': '1',
    // The first consumer group creates __consumer_offsets; 50 partitions (the default) cost seconds.
    'offsets.topic.num.partitions': '5',
    'transaction.state.log.replication.factor': '1',
    'transaction.state.log.min.isr': '1',
    'transaction.state.log.num.partitions': '5',
    'share.coordinator.state.topic.replication.factor': '1',
    'share.coordinator.state.topic.min.isr': '1',
    'group.initial.rebalance.delay.ms': '0',
    'num.network.threads': '2',
    'num.io.threads': '4',
    ...extra,
  });
}

/** A KRaft cluster id: 16 random bytes, base64url. One starting with '-' would read as a flag. */
function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

interface KcatMetadata {
  brokers?: Array<{ id: number }>;
  topics?: Array<{ topic: string; error?: string; partitions?: Array<{ partition: number; leader: number }> }>;
}

async function kcatMetadata(bootstrap: string, topic?: string): Promise<KcatMetadata | undefined> {
  const args = ['-L', '-J', '-b', bootstrap, '-m', '3', ...(topic === undefined ? [] : ['-t', topic])];
  const result = await run('kcat', args, { timeoutMs: 10_000 }).catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error('kcat is not installed (Debian package kcat; scripts/ci-install.sh installs it)');
    }
    throw err;
  });
  if (result.code !== 0) return undefined;
  try {
    return JSON.parse(result.stdout) as KcatMetadata;
  } catch {
    return undefined;
  }
}

/** Starts a single-node Kafka broker (formatting a new data dir first) and waits until it serves metadata. */
export async function startKafka(opts: StartKafkaOptions = {}): Promise<KafkaBroker> {
  const libDir = await ensureKafkaJars();
  const [brokerPort, controllerPort] = await (async () => {
    if (opts.port !== undefined && opts.controllerPort !== undefined) return [opts.port, opts.controllerPort];
    const ports = await freePorts(2, { stable: true });
    return [opts.port ?? (ports[0] as number), opts.controllerPort ?? (ports[1] as number)];
  })();
  if (brokerPort === controllerPort) throw new Error(`broker and controller ports must differ (both ${brokerPort})`);
  const ownsDataDir = opts.dataDir === undefined;
  const dataDir = opts.dataDir ?? mkdtempSync(join(tmpdir(), 'fieldline-kafka-'));
  mkdirSync(dataDir, { recursive: true });
  const forgetDataDir = ownsDataDir ? removeOnExit(dataDir) : () => undefined;
  const logDir = opts.logDir ?? defaultLogDir();
  const logName = `kafka-${brokerPort}.log`;
  const bootstrap = `127.0.0.1:${brokerPort}`;
  const logDirs = join(dataDir, 'log');
  const propsFile = join(dataDir, 'server.properties');
  writeFileSync(propsFile, brokerProperties(brokerPort, controllerPort, logDirs, opts.brokerConfig ?? {}));
  const archive = join(libDir, CLASS_ARCHIVE);
  const archiveDump = join(dataDir, 'classes.jsa');
  const jvmOptions = opts.jvmOptions ?? DEFAULT_JVM_OPTIONS;
  const log4j = `-Dlog4j2.configurationFile=${join(KAFKA_SUPPORT_DIR(), 'log4j2.xml')}`;
  const classpath = ['-cp', join(libDir, '*')];
  const timeoutMs = opts.startTimeoutMs ?? 60_000;

  const archiveOption = (dump: boolean): string[] => {
    if (existsSync(archive)) return [`-XX:SharedArchiveFile=${archive}`];
    return dump ? [`-XX:ArchiveClassesAtExit=${archiveDump}`] : [];
  };

  let proc: LoggedProcess | undefined;
  let firstStart = true;

  const format = async (): Promise<void> => {
    if (existsSync(join(logDirs, 'meta.properties'))) return;
    // No log4j config: the tool then logs errors only, and skips a few hundred ms of logging set-up.
    const args = [...jvmOptions, ...archiveOption(false), ...classpath, 'kafka.tools.StorageTool', 'format'];
    await runOk('java', [...args, '--config', propsFile, '--cluster-id', newClusterId()], { cwd: dataDir, timeoutMs: 60_000 });
  };

  /** Keeps the class archive the first clean shutdown wrote, for every JVM after it. */
  const adoptArchive = (killed: boolean): void => {
    if (!existsSync(archiveDump)) return;
    try {
      if (!killed && !existsSync(archive) && statSync(archiveDump).size > 0) {
        const staged = `${archive}.${process.pid}.tmp`;
        copyFileSync(archiveDump, staged);
        renameSync(staged, archive);
      }
    } finally {
      rmSync(archiveDump, { force: true });
    }
  };

  const start = async (): Promise<void> => {
    if (proc?.running()) return;
    await format();
    const args = [...jvmOptions, ...archiveOption(true), log4j, ...classpath, 'kafka.Kafka', propsFile];
    const started = spawnLogged('java', args, { logDir, logName, truncate: firstStart, cwd: dataDir });
    firstStart = false;
    proc = started;
    try {
      // The broker opens its listener only once it is registered and unfenced, so a connect is the
      // cheap first check; kcat then proves it answers metadata requests.
      await waitUntil(
        async () => (await waitForPort(brokerPort, '127.0.0.1', 0).then(() => true, () => false)) &&
          ((await kcatMetadata(bootstrap))?.brokers?.length ?? 0) > 0,
        { what: `Kafka broker on ${bootstrap}`, timeoutMs, intervalMs: 100, process: started },
      );
    } catch (err) {
      await started.stop('SIGKILL');
      throw err;
    }
  };

  const stop = async (): Promise<void> => {
    if (proc === undefined) return;
    const exit = await proc.stop('SIGTERM', 30_000);
    adoptArchive(exit.signal === 'SIGKILL');
  };

  const createTopics = async (topics: KafkaTopic[]): Promise<void> => {
    if (topics.length === 0) return;
    const { default: Kafka } = await import('node-rdkafka');
    const admin = Kafka.AdminClient.create({ 'bootstrap.servers': bootstrap, 'client.id': 'fieldline-test-support' });
    try {
      for (const topic of topics) {
        await new Promise<void>((resolve, reject) => {
          const spec = { topic: topic.name, num_partitions: topic.partitions ?? 3, replication_factor: 1, config: topic.config ?? {} };
          admin.createTopic(spec, 15_000, (err) => {
            if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS) resolve();
            else reject(new Error(`creating topic ${topic.name} on ${bootstrap} failed: ${err.message} (code ${err.code})`));
          });
        });
      }
    } finally {
      admin.disconnect();
    }
    for (const topic of topics) {
      await waitUntil(
        async () => {
          const found = (await kcatMetadata(bootstrap, topic.name))?.topics?.find((t) => t.topic === topic.name);
          const partitions = found?.error === undefined ? (found?.partitions ?? []) : [];
          const wanted = topic.partitions ?? partitions.length;
          return partitions.length > 0 && partitions.length >= wanted && partitions.every((p) => p.leader >= 0);
        },
        { what: `leaders for topic ${topic.name}`, timeoutMs: 30_000, intervalMs: 100, ...(proc ? { process: proc } : {}) },
      );
    }
  };

  const broker: KafkaBroker = {
    bootstrap,
    port: brokerPort,
    controllerPort,
    dataDir,
    logFile: join(logDir, logName),
    start,
    stop,
    createTopics,
    async destroy() {
      await stop();
      if (ownsDataDir) rmSync(dataDir, { recursive: true, force: true });
      forgetDataDir();
    },
  };

  try {
    await start();
    await createTopics(opts.topics ?? []);
  } catch (err) {
    await broker.destroy();
    throw err;
  }
  return broker;
}
