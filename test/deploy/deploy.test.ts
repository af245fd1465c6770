// No Docker engine runs here, so the deploy files are checked by parsing them and by running what
// they run: the paths they start exist in the build, and the sample configs load.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
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

  it('every balena variable in the compose file is a real gateway setting, and the healthcheck asks the configured API port', () => {
    const compose = parse(read('deploy/balena/docker-compose.yml')) as {
      services: { gateway: { environment: Record<string, string>; healthcheck: { test: string[] } } };
    };
    const gw = compose.services.gateway;
    for (const [name, value] of Object.entries(gw.environment)) {
      // One variable at a time, so a misspelt one is named by the failure.
      assert.doesNotThrow(() => loadConfig(gatewayConfigSchema, { envPrefix: 'FIELDLINE_GATEWAY_', env: { [name]: value } }), name);
    }
    assert.throws(() => loadConfig(gatewayConfigSchema, { envPrefix: 'FIELDLINE_GATEWAY_', env: { FIELDLINE_GATEWAY_KAFKA__BROKER: 'x:1' } }), /unknown key/);
    const cfg = loadConfig(gatewayConfigSchema, { envPrefix: 'FIELDLINE_GATEWAY_', env: gw.environment });
    assert.equal(cfg.kafka.brokers, 'kafka.example.net:9093');
    assert.match(gw.healthcheck.test.join(' '), new RegExp(`127\\.0\\.0\\.1:${cfg.api.port}/healthz`));
  });

  it('balena.yml lists only 64-bit device types: Node.js 24 ships no armv7l build', () => {
    const balena = parse(read('deploy/balena/balena.yml')) as { data: { defaultDeviceType: string; supportedDeviceTypes: string[] } };
    const types = balena.data.supportedDeviceTypes;
    assert.ok(types.includes(balena.data.defaultDeviceType));
    assert.ok(types.includes('raspberrypi4-64') && types.includes('raspberrypi3-64'));
    for (const t of types) assert.match(t, /-64$|^raspberrypi5$|^raspberrypicm4-ioboard$|^generic-(aarch64|amd64)$/, t);
  });

  it('the Dockerfile builds and runs on Node.js 24 and starts a file the build produces', () => {
    const dockerfile = read('deploy/balena/Dockerfile.template');
    const from = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));
    assert.equal(from.length, 2, 'a build stage and a run stage');
    // Pinned to a Node.js 24 release, so a rebuild does not move the runtime under the native modules.
    for (const line of from) assert.match(line, /^FROM node:24\.\d+\.\d+-bookworm(-slim)?( AS \w+)?$/, line);
    assert.match(dockerfile, /^HEALTHCHECK [^]*?\/healthz/m);
    const cmd = /CMD \["node", "([^"]+)"\]/.exec(dockerfile);
    assert.ok(cmd);
    assert.ok(existsSync(join(ROOT, cmd[1]!)), cmd[1]);
    const balena = parse(read('deploy/balena/balena.yml')) as { name: string; version: string };
    assert.equal(balena.version, JSON.parse(read('package.json')).version);
  });

  const units = ['gateway', 'cloud', 'cloud-sink', 'cloud-lake', 'cloud-alerts', 'cloud-api'] as const;
  for (const role of units) {
    it(`the ${role} unit starts the built entry point, and its --help runs`, () => {
      const [, script, ...args] = unitExecStart(`deploy/systemd/fieldline-${role}.service`);
      const local = script!.replace('/opt/fieldline/', '');
      assert.ok(existsSync(join(ROOT, local)), local);
      assert.ok(args.includes('--config'));
      const command = args.slice(0, args.indexOf('--config'));
      if (role.startsWith('cloud')) assert.deepEqual(command, [role === 'cloud' ? 'all' : role.slice('cloud-'.length)]);
      const out = execFileSync(process.execPath, [join(ROOT, local), ...command, '--help'], { encoding: 'utf8' });
      assert.match(out, /usage/);
    });
  }

  it('every unit passes systemd-analyze verify with ExecStart on this Node, and scores at most 2.5 exposure offline', () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-units-'));
    try {
      const names = readdirSync(join(ROOT, 'deploy/systemd')).filter((f) => /\.(service|target)$/.test(f));
      assert.equal(names.length, 7, names.join(' '));
      // The same rewrite install.sh makes: the units run the Node.js it found.
      for (const n of names) {
        writeFileSync(join(dir, n), read(`deploy/systemd/${n}`).replace(/^ExecStart=\/usr\/bin\/node /m, `ExecStart=${process.execPath} `));
      }
      execFileSync('systemd-analyze', ['verify', ...names.map((n) => join(dir, n))], { stdio: 'pipe' });
      for (const n of names.filter((f) => f.endsWith('.service'))) {
        const out = execFileSync('systemd-analyze', ['security', '--offline=true', '--no-pager', join(dir, n)], { encoding: 'utf8' });
        const score = /Overall exposure level for \S+: ([\d.]+)/.exec(out);
        assert.ok(score && Number(score[1]) <= 2.5, `${n}: ${score?.[1]}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the cloud units are two alternatives: the all-in-one service, or the target with one service per role', () => {
    const target = read('deploy/systemd/fieldline-cloud.target');
    assert.match(target, /^Wants=fieldline-cloud-sink\.service fieldline-cloud-lake\.service fieldline-cloud-alerts\.service fieldline-cloud-api\.service$/m);
    assert.match(target, /^Conflicts=fieldline-cloud\.service$/m);
    assert.match(read('deploy/systemd/fieldline-cloud.service'), /^Conflicts=fieldline-cloud\.target$/m);
    for (const role of ['sink', 'lake', 'alerts', 'api']) {
      const unit = read(`deploy/systemd/fieldline-cloud-${role}.service`);
      assert.match(unit, /^PartOf=fieldline-cloud\.target$/m);
      assert.match(unit, /^Conflicts=fieldline-cloud\.service$/m);
      assert.match(unit, /^WantedBy=fieldline-cloud\.target$/m);
    }
  });

  it('the gateway unit is Type=notify with a watchdog, and reaches only the serial ports among devices', () => {
    const unit = read('deploy/systemd/fieldline-gateway.service');
    for (const line of ['Type=notify', 'NotifyAccess=all', 'WatchdogSec=30s', 'CapabilityBoundingSet=', 'DevicePolicy=closed', 'DeviceAllow=char-ttyUSB rw',
      'SupplementaryGroups=dialout', 'StateDirectory=fieldline', 'StateDirectoryMode=0700', 'UMask=0077']) {
      assert.ok(unit.split('\n').includes(line), line);
    }
    assert.doesNotMatch(unit, /^PrivateDevices=true/m, 'PrivateDevices would hide /dev/tty*');
    // Every port the gateway listens on by default is unprivileged, so no CAP_NET_BIND_SERVICE.
    const cfg = gatewayConfigSchema.parse({});
    for (const port of [cfg.mqtt.port, cfg.mqtt.tls.port, cfg.coap.port, cfg.api.port]) assert.ok(port >= 1024, String(port));
  });

  it('install.sh stages the gateway unit, code and sample config under DESTDIR', { timeout: 5 * 60_000 }, () => {
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
      // Enabled under DESTDIR: the link points where the unit will be on the target system.
      assert.equal(readlinkSync(join(dest, 'etc/systemd/system/multi-user.target.wants/fieldline-gateway.service')), '/etc/systemd/system/fieldline-gateway.service');
      // Production dependencies only, without the native modules' build leftovers.
      assert.ok(existsSync(join(dest, 'opt/fieldline/node_modules/better-sqlite3')));
      assert.ok(!existsSync(join(dest, 'opt/fieldline/node_modules/typescript')), 'no dev dependency');
      assert.ok(!existsSync(join(dest, 'opt/fieldline/node_modules/node-rdkafka/deps')), 'no librdkafka sources');
      execFileSync(exec[1]!, ['-e', 'require("node-rdkafka"); require("better-sqlite3")'], { cwd: join(dest, 'opt/fieldline') });
      // The staged unit, with its rewritten ExecStart, is one systemd accepts.
      execFileSync('systemd-analyze', ['verify', join(dest, 'etc/systemd/system/fieldline-gateway.service')], { stdio: 'pipe' });
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
