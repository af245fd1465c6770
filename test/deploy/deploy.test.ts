// No Docker engine runs here, so the deploy files are checked by parsing them and by running what
// they run: the paths they start exist in the build, and the sample configs load.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { loadConfig } from '../../common/src/config.js';
import { cloudConfigSchema } from '../../cloud-sink/src/config/schema.js';
import { gatewayConfigSchema } from '../../gateway/src/config/schema.js';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const read = (p: string) => readFileSync(join(ROOT, p), 'utf8');

function unitExecStart(unit: string): string[] {
  const line = read(unit).split('\n').find((l) => l.startsWith('ExecStart='));
  assert.ok(line, `${unit} has ExecStart`);
  return line.slice('ExecStart='.length).split(/\s+/);
}

describe('deploy files', () => {
  it('the balena compose file builds the gateway from the repository root with a persistent data volume', () => {
    const compose = parse(read('deploy/balena/docker-compose.yml')) as {
      volumes: Record<string, unknown>;
      services: { gateway: { build: { context: string; dockerfile: string }; volumes: string[]; environment: Record<string, string> } };
    };
    const gw = compose.services.gateway;
    const context = join(ROOT, 'deploy/balena', gw.build.context);
    assert.ok(existsSync(join(context, gw.build.dockerfile)), 'dockerfile exists relative to the context');
    assert.ok(existsSync(join(context, 'package.json')));
    const [volume, mount] = gw.volumes[0]!.split(':');
    assert.ok(volume! in compose.volumes);
    assert.equal(gw.environment.FIELDLINE_GATEWAY_DATA_DIR, mount);
    const cfg = loadConfig(gatewayConfigSchema, { envPrefix: 'FIELDLINE_GATEWAY_', env: gw.environment });
    assert.equal(cfg.dataDir, '/data');
  });

  it('the Dockerfile builds and runs on Node.js 24 and starts a file the build produces', () => {
    const dockerfile = read('deploy/balena/Dockerfile.template');
    const from = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));
    assert.equal(from.length, 2, 'a build stage and a run stage');
    for (const line of from) assert.match(line, /^FROM node:24-/, line);
    const cmd = /CMD \["node", "([^"]+)"\]/.exec(dockerfile);
    assert.ok(cmd);
    assert.ok(existsSync(join(ROOT, cmd[1]!)), cmd[1]);
    const balena = parse(read('deploy/balena/balena.yml')) as { name: string; version: string };
    assert.equal(balena.version, JSON.parse(read('package.json')).version);
  });

  for (const role of ['gateway', 'cloud'] as const) {
    it(`the ${role} unit starts the built entry point, and its --help runs`, () => {
      const [, script, ...args] = unitExecStart(`deploy/systemd/fieldline-${role}.service`);
      const local = script!.replace('/opt/fieldline/', '');
      assert.ok(existsSync(join(ROOT, local)), local);
      assert.ok(args.includes('--config'));
      const out = execFileSync(process.execPath, [join(ROOT, local), '--help'], { encoding: 'utf8' });
      assert.match(out, /usage/);
    });
  }

  it('install.sh stages the gateway unit, code and sample config under DESTDIR', () => {
    const dest = mkdtempSync(join(tmpdir(), 'fieldline-install-'));
    try {
      execFileSync('bash', [join(ROOT, 'deploy/systemd/install.sh'), 'gateway'], { env: { ...process.env, DESTDIR: dest }, stdio: 'pipe' });
      assert.ok(existsSync(join(dest, 'etc/systemd/system/fieldline-gateway.service')));
      assert.ok(existsSync(join(dest, 'opt/fieldline/dist/gateway/src/cli/main.js')));
      assert.ok(existsSync(join(dest, 'etc/fieldline/gateway.yaml')));
      // The staged unit runs the Node.js that install.sh checked (24 or later), not whatever /usr/bin/node is.
      const unit = readFileSync(join(dest, 'etc/systemd/system/fieldline-gateway.service'), 'utf8');
      const exec = /^ExecStart=(\S+) /m.exec(unit);
      assert.ok(exec, unit);
      assert.match(execFileSync(exec[1]!, ['-v'], { encoding: 'utf8' }), /^v(2[4-9]|[3-9]\d)\./);
    } finally {
      rmSync(dest, { recursive: true, force: true });
    }
  });

  it('the sample configs load, and hold the defaults they claim', () => {
    const gw = loadConfig(gatewayConfigSchema, { file: join(ROOT, 'gateway/gateway.sample.yaml'), envPrefix: 'X_', env: {} });
    const { gatewayId: _a, ...gwRest } = gw;
    const { gatewayId: _b, ...gwDefaults } = gatewayConfigSchema.parse({});
    assert.deepEqual(gwRest, gwDefaults);
    const cloud = loadConfig(cloudConfigSchema, { file: join(ROOT, 'cloud-sink/cloud.sample.yaml'), envPrefix: 'X_', env: {} });
    assert.deepEqual(cloud, cloudConfigSchema.parse({}));
  });
});
