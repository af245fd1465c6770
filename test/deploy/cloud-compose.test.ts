// The cloud compose stack (deploy/cloud/compose.yml), checked without a Docker engine: every role
// container runs an entry point the build produces, with environment variables the real config
// loader accepts; images are pinned; ports and topics are the contract's (DESIGN.md).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { ConfigError, loadConfig } from '../../common/src/config.js';
import { CLOUD_ENV_PREFIX, cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { repoRoot } from '../../devstack/net.js';
import { FIELDLINE_TOPICS } from '../../devstack/topics.js';

const ROOT = repoRoot();
const DIR = join(ROOT, 'deploy/cloud');

interface Service {
  image?: string;
  build?: { context: string; dockerfile: string };
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string | number>;
  ports?: string[];
  volumes?: string[];
}
const compose = parse(readFileSync(join(DIR, 'compose.yml'), 'utf8'), { merge: true }) as {
  services: Record<string, Service>;
  volumes: Record<string, unknown>;
};
const roles = Object.entries(compose.services).filter(([, s]) => s.build);

function dockerfile(s: Service): string {
  return readFileSync(join(DIR, s.build!.context, s.build!.dockerfile), 'utf8');
}

/** ENTRYPOINT ["node", "/opt/fieldline/dist/…"] → the file in this checkout's build. */
function entryPoint(text: string): string {
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(text);
  assert.ok(m, 'the Dockerfile has an exec-form ENTRYPOINT');
  const argv = JSON.parse(m[1]!) as string[];
  assert.equal(argv[0], 'node');
  assert.match(argv[1]!, /^\/opt\/fieldline\//);
  return join(ROOT, argv[1]!.slice('/opt/fieldline/'.length));
}

function dockerfileEnv(text: string): Record<string, string> {
  return Object.fromEntries([...text.matchAll(/^ENV (\w+)=(\S+)$/gm)].map((m) => [m[1]!, m[2]!]));
}

/** The config a role container loads: the image's ENV, then the service's, as main.ts reads them. */
function containerConfig(s: Service) {
  const env = { ...dockerfileEnv(dockerfile(s)), ...Object.fromEntries(Object.entries(s.environment ?? {}).map(([k, v]) => [k, String(v)])) };
  const overrides = env.DATABASE_URL ? { database: { url: env.DATABASE_URL } } : {};
  return loadConfig(cloudConfigSchema, { envPrefix: CLOUD_ENV_PREFIX, env, overrides });
}

describe('cloud compose stack', () => {
  it('runs one container per cloud role, built from the repository with the Dockerfile', () => {
    assert.deepEqual(roles.map(([name]) => name).sort(), ['alerts', 'api', 'lake', 'sink']);
    for (const [name, s] of roles) {
      assert.ok(existsSync(join(DIR, s.build!.context, 'package.json')), `${name}: the context is the repository root`);
      assert.ok(existsSync(join(DIR, s.build!.context, s.build!.dockerfile)), `${name}: the Dockerfile exists`);
      assert.deepEqual(s.command, [name], `${name}: the role is the command`);
    }
  });

  it('each role\'s command is a real entry point in the build, and `<role> --help` runs', () => {
    for (const [name, s] of roles) {
      const main = entryPoint(dockerfile(s));
      assert.ok(existsSync(main), main);
      const out = execFileSync(process.execPath, [main, ...s.command!, '--help'], { encoding: 'utf8' });
      assert.match(out, /usage:\s+fieldline-cloud sink\|api\|lake\|alerts\|all/, name);
    }
  });

  it('the environment the roles get is real config: the loader accepts it and applies every variable', () => {
    for (const [name, s] of roles) {
      const cfg = containerConfig(s);
      assert.equal(cfg.kafka.brokers, 'kafka:19092', name);
      assert.equal(cfg.database.url, 'postgres://fieldline:fieldline@timescaledb:5432/fieldline', name);
      assert.equal(cfg.dataDir, '/var/lib/fieldline-cloud', name);
      assert.ok(s.volumes?.some((v) => v.startsWith('cloud-data:/var/lib/fieldline-cloud')), `${name}: dataDir is on a volume`);
    }
    // The check has teeth: a variable naming no setting is refused.
    assert.throws(() => containerConfig({ ...roles[0]![1], environment: { FIELDLINE_CLOUD_KAFKA__BROKER: 'x:1' } }), ConfigError);
  });

  it('every image and base image is pinned to a version', () => {
    for (const [name, s] of Object.entries(compose.services)) {
      if (s.image === undefined) continue;
      assert.match(s.image, /^[\w./-]+:\d+\.\d+\.\d+[\w.-]*$/, `${name}: ${s.image}`);
    }
    for (const line of dockerfile(roles[0]![1]).split('\n').filter((l) => l.startsWith('FROM '))) {
      assert.match(line, /^FROM node:24\.\d+\.\d+-bookworm(-slim)?( AS \w+)?$/, line);
    }
  });

  it('publishes the contract\'s ports: Kafka 9092, PostgreSQL 5432, the API on its configured 8090', () => {
    assert.deepEqual(compose.services.kafka!.ports, ['9092:9092']);
    assert.deepEqual(compose.services.timescaledb!.ports, ['5432:5432']);
    const api = compose.services.api!;
    assert.equal(containerConfig(api).api.port, 8090);
    assert.deepEqual(api.ports, ['8090:8090']);
    assert.match(compose.services.kafka!.environment!.KAFKA_ADVERTISED_LISTENERS as string, /:9092$/);
    for (const [name, s] of Object.entries(compose.services)) {
      for (const v of s.volumes ?? []) assert.ok(v.split(':')[0]! in compose.volumes, `${name}: volume ${v} is declared`);
    }
  });

  it('kafka-init creates exactly the topics of devstack/topics.ts, with their partitions and compaction', () => {
    const script = compose.services['kafka-init']!.command!.join('\n');
    const made = [...script.matchAll(/^\s*t (\S+) --partitions (\d+)(?: --config cleanup\.policy=(\w+))?$/gm)].map((m) => ({
      name: m[1]!,
      partitions: Number(m[2]),
      ...(m[3] ? { config: { 'cleanup.policy': m[3] } } : {}),
    }));
    assert.deepEqual(made, FIELDLINE_TOPICS.map((t) => ({ ...t })));
    assert.equal(compose.services.kafka!.environment!.KAFKA_PROCESS_ROLES, 'broker,controller', 'KRaft, no ZooKeeper');
  });
});
