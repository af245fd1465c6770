// The gateway clock on injected time: what it says about trust as its source changes, how it sees a
// step of the wall clock against the monotonic one, and how each source reaches its verdict.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1 } from '../../../proto/src/wire.js';
import { gatewayConfigSchema } from '../config/schema.js';
import { defaultSteps } from '../pipeline/pipeline.js';
import type { Envelope } from '../pipeline/types.js';
import { GatewayClock } from './clock.js';
import { fileSource, RELEASE_FLOOR_MS, systemSource, type ClockSource, type SourceReading } from './sources.js';

const YEAR_MS = 365 * 86_400_000;
const T0 = Date.UTC(2026, 5, 1, 12);

/** Wall and monotonic clocks the test moves by hand, and a source that answers what it is told. */
function rig(first: SourceReading) {
  const t = { wall: T0, mono: 1_000_000 };
  let answer: SourceReading | Error = first;
  const source: ClockSource = {
    name: 'test',
    read: async () => {
      if (answer instanceof Error) throw answer;
      return answer;
    },
  };
  const logs: string[] = [];
  const log = { info: (_o: object, m: string) => logs.push(m), warn: (_o: object, m: string) => logs.push(m), error: (_o: object, m: string) => logs.push(m) };
  const clock = new GatewayClock(source, { pollMs: 1_000, jumpThresholdMs: 2_000 }, { wall: () => t.wall, mono: () => t.mono, bootId: 'boot-1', log });
  const advance = (ms: number) => {
    t.wall += ms;
    t.mono += ms;
  };
  return { t, clock, logs, advance, answer: (a: SourceReading | Error) => (answer = a) };
}

describe('gateway clock', () => {
  it('is untrusted before its source has answered, then follows the source as it changes', async () => {
    const r = rig({ synced: false, offsetMs: -YEAR_MS, detail: 'a year back' });
    assert.equal(r.clock.trusted(), false, 'trusted before the first read');
    await r.clock.refresh();
    assert.equal(r.clock.trusted(), false);
    assert.equal(r.clock.now(), T0 - YEAR_MS);
    const s = r.clock.stamp();
    assert.deepEqual(s, { wallMs: T0 - YEAR_MS, monoMs: 1_000_000, bootId: 'boot-1', trusted: false });

    r.advance(5_000);
    r.answer({ synced: true, offsetMs: 0, detail: 'synced' });
    await r.clock.refresh();
    assert.equal(r.clock.trusted(), true);
    assert.equal(r.clock.now(), T0 + 5_000);
    assert.ok(r.logs.includes('wall clock trusted'), r.logs.join('; '));
  });

  it('sees a step of the wall clock against the monotonic clock, and not the steady run of both', async () => {
    const r = rig({ synced: false, offsetMs: 0, detail: '' });
    await r.clock.refresh();
    r.advance(60_000);
    await r.clock.refresh();
    assert.equal(r.clock.state().jumps, 0, 'both clocks ran on together: no jump');
    // NTP steps the wall clock forward by a year at its first sync; the monotonic clock does not move.
    r.t.wall += YEAR_MS;
    r.answer({ synced: true, offsetMs: 0, detail: 'synced' });
    await r.clock.refresh();
    const st = r.clock.state();
    assert.equal(st.jumps, 1);
    assert.equal(st.lastJumpMs, YEAR_MS);
    assert.equal(st.lastJumpAtMs, r.t.wall);
    // A step under the threshold is drift, not a jump.
    r.t.wall -= 1_500;
    await r.clock.refresh();
    assert.equal(r.clock.state().jumps, 1);
    r.t.wall -= 10_000;
    await r.clock.refresh();
    assert.equal(r.clock.state().jumps, 2);
    assert.equal(r.clock.state().lastJumpMs, -10_000, 'a backward step, measured from the last poll');
  });

  it('a source that cannot be read keeps the last verdict and reports why', async () => {
    const r = rig({ synced: true, offsetMs: 0, detail: 'ok' });
    await r.clock.refresh();
    r.answer(new Error('gone'));
    await r.clock.refresh();
    assert.equal(r.clock.trusted(), true);
    assert.equal(r.clock.state().error, 'gone');
  });

  it('stampAt places an instant taken from the system clock on the gateway clock and the monotonic clock', async () => {
    const r = rig({ synced: false, offsetMs: -YEAR_MS, detail: '' });
    await r.clock.refresh();
    const s = r.clock.stampAt(T0 - 250);
    assert.deepEqual(s, { wallMs: T0 - 250 - YEAR_MS, monoMs: 1_000_000 - 250, bootId: 'boot-1', trusted: false });
  });

  it('the test clock file supplies the boot id, which replaces the kernel one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fieldline-clock-'));
    try {
      const file = join(dir, 'clock.json');
      writeFileSync(file, JSON.stringify({ offsetMs: -YEAR_MS, synced: false, bootId: 'boot-A' }));
      const clock = new GatewayClock(fileSource(file), { pollMs: 1_000, jumpThresholdMs: 2_000 }, { bootId: 'kernel' });
      await clock.refresh();
      assert.equal(clock.bootId, 'boot-A');
      assert.equal(clock.trusted(), false);
      writeFileSync(file, JSON.stringify({ offsetMs: 0, synced: true }));
      await clock.refresh();
      assert.equal(clock.bootId, 'kernel');
      assert.equal(clock.trusted(), true);
      assert.equal(clock.state().jumps, 1, 'the offset moving by a year is a jump');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('clock sources', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-clock-src-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('a missing or malformed test clock file is FL_ERR_CLOCK_FILE, naming the file and what was expected', async () => {
    const missing = join(dir, 'nope.json');
    await assert.rejects(fileSource(missing).read(), (e: Error & { code?: string }) => e.code === 'FL_ERR_CLOCK_FILE' && e.message.includes(missing));
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ offsetMs: 'a year', synced: true }));
    await assert.rejects(fileSource(bad).read(), (e: Error & { code?: string }) => e.code === 'FL_ERR_CLOCK_FILE' && /expected \{"offsetMs": number/.test(e.message));
  });

  it('system: the kernel state decides when it can be read (STA_UNSYNC, maxerror under 16 s)', async () => {
    const at = (status: number, maxErrorUs: number) => systemSource({ adjtimex: async () => ({ status, maxErrorUs }), timesyncd: () => 'synced' }).read();
    assert.equal((await at(0x2001, 450_000)).synced, true);
    assert.equal((await at(0x0040, 16_000_000)).synced, false, 'STA_UNSYNC set');
    assert.equal((await at(0x2001, 16_000_000)).synced, false, 'maxerror too large');
  });

  it('system: without the kernel state, systemd-timesyncd; without either, only a clock before the release is wrong', async () => {
    let adjtimexCalls = 0;
    const noKernel = async () => {
      adjtimexCalls++;
      return null;
    };
    const ts = systemSource({ adjtimex: noKernel, timesyncd: () => 'unsynced' });
    const r = await ts.read();
    assert.equal(r.synced, false);
    assert.match(r.detail, /timesyncd/);
    await ts.read();
    assert.equal(adjtimexCalls, 1, 'python3 missing once is missing for good: not spawned at every poll');
    const early = await systemSource({ adjtimex: noKernel, timesyncd: () => null, wall: () => Date.UTC(1970, 0, 1) }).read();
    assert.equal(early.synced, false);
    const late = await systemSource({ adjtimex: noKernel, timesyncd: () => null, wall: () => RELEASE_FLOOR_MS + 1 }).read();
    assert.equal(late.synced, true);
    assert.match(late.detail, /no NTP state readable/);
  });
});

describe('the clock step in the pipeline', () => {
  const cfg = gatewayConfigSchema.parse({});

  async function pipelineOn(synced: boolean) {
    const t = { wall: T0, mono: 2_000_000 };
    const clock = new GatewayClock({ name: 'test', read: async () => ({ synced, offsetMs: synced ? 0 : -YEAR_MS, detail: '' }) }, { pollMs: 1_000, jumpThresholdMs: 2_000 }, { wall: () => t.wall, mono: () => t.mono, bootId: 'b1' });
    await clock.refresh();
    const steps = defaultSteps(cfg, undefined, clock);
    return (payload: object, format: Envelope['format'] = 'json', reading?: Envelope['reading']) => {
      const env: Envelope = { deviceId: 'd1', source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT, format, raw: Buffer.from(JSON.stringify(payload)), receivedMs: T0 - 100, topic: 't', ...(reading ? { reading } : {}) };
      for (const s of steps) {
        const result = s.run(env);
        if (result) return { result, env };
      }
      return { result: undefined, env };
    };
  }

  it('untrusted: a reading without ts is stamped on the gateway clock and keeps its monotonic time and boot id', async () => {
    const run = await pipelineOn(false);
    const { result, env } = run({ metrics: { t: 1 } });
    assert.equal(result, undefined);
    assert.equal(env.reading?.tsMs, T0 - 100 - YEAR_MS);
    assert.deepEqual(env.untrusted, { monoMs: 2_000_000 - 100, bootId: 'b1' });
  });

  it('untrusted: a device time is neither stamped nor judged against the wrong clock (a year "ahead" passes)', async () => {
    const run = await pipelineOn(false);
    const { result, env } = run({ ts: T0, metrics: { t: 1 } });
    assert.equal(result, undefined);
    assert.equal(env.reading?.tsMs, T0);
    assert.equal(env.untrusted, undefined);
  });

  it('untrusted: a Modbus poll timed by the adapter on the system clock is moved to the gateway clock and kept correctable', async () => {
    const run = await pipelineOn(false);
    const { env } = run({}, 'reading', { deviceId: 'd1', tsMs: T0 - 300, metrics: { t: 1 } });
    assert.equal(env.reading?.tsMs, T0 - 300 - YEAR_MS);
    assert.deepEqual(env.untrusted, { monoMs: 2_000_000 - 300, bootId: 'b1' });
  });

  it('trusted: stamps as before, no monotonic stamp, and device times outside the window are refused again', async () => {
    const run = await pipelineOn(true);
    const ok = run({ metrics: { t: 1 } });
    assert.equal(ok.env.reading?.tsMs, T0 - 100);
    assert.equal(ok.env.untrusted, undefined);
    assert.equal(run({ ts: T0 + YEAR_MS, metrics: { t: 1 } }).result?.code, 'FL_ERR_VALIDATE_TIMESTAMP');
  });
});
