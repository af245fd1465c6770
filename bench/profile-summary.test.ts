// bench/profile-summary.ts reads what `node --cpu-prof` really writes: a process that spends its
// time in one named function shows that function first, and the areas add up to the whole profile.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { findCpuProfiles, newestCpuProfile, profileMarkdown, summarizeCpuProfile } from './profile-summary.js';

it('a process busy in spinTheWheel for 400 ms profiles with spinTheWheel as the top self-time function', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-prof-'));
  try {
    const busy = 'function spinTheWheel(ms) { const end = Date.now() + ms; let x = 0; while (Date.now() < end) x += Math.sqrt(x + 1); return x; } spinTheWheel(400);';
    execFileSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '-e', busy], { timeout: 30_000 });
    const path = newestCpuProfile(dir);
    assert.ok(path, 'node wrote no .cpuprofile');
    const s = summarizeCpuProfile(path, { top: 5 });
    const detail = JSON.stringify(s, null, 1);

    assert.equal(s.topFunctions[0]?.fn, 'spinTheWheel', detail);
    assert.equal(s.topFunctions[0]?.where, '[eval]:1', detail);
    assert.ok(s.topFunctions.length <= 5, detail);
    // A busy loop of 400 ms: most of the profile is that function, whatever else the machine runs.
    assert.ok(s.topFunctions[0]!.selfMs >= 200, detail);
    assert.ok(s.samples > 0 && s.totalMs >= s.topFunctions[0]!.selfMs, detail);

    // The areas partition the profile: their times add up to the total, their shares to 100 %.
    const sumMs = s.byArea.reduce((a, x) => a + x.selfMs, 0);
    assert.ok(Math.abs(sumMs - s.totalMs) <= 0.1 * s.byArea.length, detail);
    assert.ok(Math.abs(s.byArea.reduce((a, x) => a + x.pct, 0) - 100) <= 0.1 * s.byArea.length, detail);
    assert.ok(s.byArea.some((a) => a.area === 'node internals'), detail);
    assert.deepEqual([...s.byArea].sort((a, b) => b.selfMs - a.selfMs), s.byArea);

    const md = profileMarkdown(s, 'busy loop');
    assert.match(md, /^#### busy loop\n/);
    assert.match(md, /\| spinTheWheel \| \[eval\]:1 \| \d+(\.\d)? \| \d+(\.\d)? \|/);
    assert.match(md, /\| node internals \| /);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('self time rolls up by our folder, by npm package (scoped and nested), node internals and V8 pseudo-frames', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-prof-'));
  try {
    const root = '/srv/fieldline';
    const frame = (id: number, functionName: string, url: string, lineNumber = 9) => ({ id, callFrame: { functionName, scriptId: '1', url, lineNumber, columnNumber: 0 }, hitCount: 0, children: [] });
    const nodes = [
      frame(1, '(root)', '', -1),
      frame(2, '(idle)', '', -1),
      frame(3, '(garbage collector)', '', -1),
      frame(4, 'normalize', `file://${root}/dist/gateway/src/pipeline/steps.js`),
      frame(5, 'handlePublish', `file://${root}/node_modules/aedes/lib/handlers/publish.js`),
      frame(6, 'encode', `file://${root}/node_modules/@scope/pkg/index.js`),
      frame(7, 'inner', `file://${root}/node_modules/aedes/node_modules/fastfall/fall.js`),
      frame(8, 'insert', `file:///elsewhere/checkout/dist/cloud-sink/src/store/pg.js`),
      frame(9, 'emit', 'node:events'),
      frame(10, 'JSON.parse', ''),
      frame(11, 'normalize', `file://${root}/dist/gateway/src/pipeline/steps.js`),
      frame(12, 'wire', `file://${root}/dist/proto/src/wire.js`),
      frame(13, 'decode', `file://${root}/dist/proto/gen/telemetry.js`),
      frame(14, 'benchWire', `file://${root}/dist/bench/wire.js`),
    ];
    // Each sample lasts until the next one, 1 ms later, and the last until endTime, 1 ms after it:
    // each id below gets 1 ms per appearance; the 1 ms before the first sample is no one's.
    const samples = [2, 2, 2, 2, 3, 4, 11, 5, 6, 7, 8, 9, 10, 12, 13, 14, 4];
    const profile = { nodes, startTime: 0, endTime: (samples.length + 1) * 1000, samples, timeDeltas: samples.map(() => 1000) };
    const path = join(dir, 'synthetic.cpuprofile');
    writeFileSync(path, JSON.stringify(profile));
    const s = summarizeCpuProfile(path, { repoRoot: root });
    const area = Object.fromEntries(s.byArea.map((a) => [a.area, a.selfMs]));
    assert.deepEqual(area, {
      '(idle)': 4, 'gateway/src/pipeline': 3, '(garbage collector)': 1, aedes: 1, '@scope/pkg': 1, fastfall: 1,
      'cloud-sink/src/store': 1, 'node internals': 1, '(native)': 1, 'proto/src': 1, 'proto/gen': 1, bench: 1,
    });
    assert.equal(s.totalMs, 17, 'the first sample starts the clock; the last lasts to endTime');
    assert.equal(s.busyMs, 13);
    assert.equal(s.idlePct, 23.5);
    assert.equal(s.gcPct, 5.9);
    // The same function at two call sites is one row; idle is never a "function".
    assert.deepEqual(s.topFunctions[0], { fn: 'normalize', where: 'gateway/src/pipeline/steps.js:10', area: 'gateway/src/pipeline', selfMs: 3, pct: 17.6, busyPct: 23.1 });
    assert.ok(!s.topFunctions.some((f) => f.fn === '(idle)'));
    assert.ok(s.topFunctions.some((f) => f.where === 'node_modules/aedes/lib/handlers/publish.js:10'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('findCpuProfiles lists a directory\'s .cpuprofile files newest first; a missing directory has none', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-prof-'));
  try {
    for (const [name, age] of [['old.cpuprofile', 300], ['new.cpuprofile', 10], ['mid.cpuprofile', 100], ['notes.txt', 0]] as const) {
      writeFileSync(join(dir, name), '{}');
      const t = Date.now() / 1000 - age;
      utimesSync(join(dir, name), t, t);
    }
    assert.deepEqual(findCpuProfiles(dir), ['new', 'mid', 'old'].map((n) => join(dir, `${n}.cpuprofile`)));
    assert.equal(newestCpuProfile(dir), join(dir, 'new.cpuprofile'));
    assert.deepEqual(findCpuProfiles(join(dir, 'missing')), []);
    assert.equal(newestCpuProfile(join(dir, 'missing')), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
