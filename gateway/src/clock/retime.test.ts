// Correction of readings stamped on an untrusted clock: the arithmetic, the reboot and hold rules,
// and the SQLite outbox applying them at lease time (stored, so a resend after a restart carries
// the corrected bytes), on injected clocks.
import Database from 'better-sqlite3';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { v1, type Reading } from '../../../proto/src/wire.js';
import { SqliteOutbox } from '../outbox/sqlite-outbox.js';
import { GatewayClock } from './clock.js';
import { decide, retimeHook } from './retime.js';
import type { SourceReading } from './sources.js';

const YEAR_MS = 365 * 86_400_000;
const TRUE_T0 = Date.UTC(2026, 5, 1, 12);
const HOLD = 60_000;

describe('decide', () => {
  const now = { trusted: true, wallMs: TRUE_T0 + 90_000, monoMs: 500_000, bootId: 'b1' };

  it('on a trusted clock a stamp of this boot is put at now − (mono now − mono then)', () => {
    assert.deepEqual(decide({ monoMs: 410_000, bootId: 'b1' }, now, HOLD), { action: 'correct', tsMs: TRUE_T0 });
    assert.deepEqual(decide({ monoMs: 500_000, bootId: 'b1' }, now, HOLD), { action: 'correct', tsMs: TRUE_T0 + 90_000 });
  });

  it('a stamp from another boot is flagged FL_ERR_CLOCK_REBOOTED, trusted clock or not', () => {
    assert.deepEqual(decide({ monoMs: 10, bootId: 'b0' }, now, HOLD), { action: 'flag', flag: 'FL_ERR_CLOCK_REBOOTED' });
    assert.deepEqual(decide({ monoMs: 10, bootId: 'b0' }, { ...now, trusted: false }, HOLD), { action: 'flag', flag: 'FL_ERR_CLOCK_REBOOTED' });
  });

  it('on an untrusted clock a stamp waits holdMs of monotonic time, then is flagged FL_ERR_CLOCK_UNSYNCED', () => {
    const untrusted = { ...now, trusted: false };
    assert.deepEqual(decide({ monoMs: 500_000 - HOLD + 1, bootId: 'b1' }, untrusted, HOLD), { action: 'hold' });
    assert.deepEqual(decide({ monoMs: 500_000 - HOLD, bootId: 'b1' }, untrusted, HOLD), { action: 'flag', flag: 'FL_ERR_CLOCK_UNSYNCED' });
  });

  it('with no hold (outbox export: the stick is the way out) an untrusted stamp is flagged at once', () => {
    assert.deepEqual(decide({ monoMs: 500_000, bootId: 'b1' }, { ...now, trusted: false }, 0), { action: 'flag', flag: 'FL_ERR_CLOCK_UNSYNCED' });
  });

  it('a monotonic stamp ahead of the monotonic clock cannot be right: FL_ERR_CLOCK_UNCORRECTABLE', () => {
    assert.deepEqual(decide({ monoMs: 600_000, bootId: 'b1' }, now, HOLD), { action: 'flag', flag: 'FL_ERR_CLOCK_UNCORRECTABLE' });
    assert.deepEqual(decide({ monoMs: Number.NaN, bootId: 'b1' }, now, HOLD), { action: 'flag', flag: 'FL_ERR_CLOCK_UNCORRECTABLE' });
  });
});

describe('SQLite outbox with the retime hook', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fieldline-retime-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A gateway clock a year back and unsynchronised, on time the test moves, and an outbox using it. */
  async function rig(name: string, boot = 'b1', holdRecheckMs = 0) {
    const t = { wall: TRUE_T0, mono: 1_000_000, boot };
    let answer: SourceReading = { synced: false, offsetMs: -YEAR_MS, detail: '' };
    const clock = new GatewayClock({ name: 'test', read: async () => answer }, { pollMs: 1_000, jumpThresholdMs: 2_000 }, { wall: () => t.wall, mono: () => t.mono, bootId: boot });
    await clock.refresh();
    const path = join(dir, `${name}.db`);
    const outbox = new SqliteOutbox({ path, retime: retimeHook(clock, HOLD), clock: () => t.wall, holdRecheckMs });
    const sync = async () => {
      answer = { synced: true, offsetMs: 0, detail: '' };
      await clock.refresh();
    };
    return { t, clock, outbox, path, sync };
  }

  /** What the clock step does for a reading without a time. */
  async function stampAndAppend(r: Awaited<ReturnType<typeof rig>>, n: number): Promise<void> {
    const s = r.clock.stamp();
    const reading: Reading = { deviceId: 'd1', tsMs: s.wallMs, metrics: { seq: n }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT };
    await r.outbox.append([reading], undefined, s.trusted ? undefined : { monoMs: s.monoMs, bootId: s.bootId });
  }

  const decoded = (b: { readings: Uint8Array[] }) => b.readings.map((x) => v1.Reading.decode(x));

  it('holds stamped readings while the clock is untrusted, then leases them corrected to their true time', async () => {
    const r = await rig('correct');
    for (let i = 0; i < 3; i++) {
      await stampAndAppend(r, i);
      r.t.wall += 1_000;
      r.t.mono += 1_000;
    }
    assert.equal(r.outbox.lease(100), null, 'leased while the clock is untrusted and the hold has not run out');
    r.t.wall += 7_000;
    r.t.mono += 7_000;
    await r.sync();
    const depthBefore = r.outbox.stats().depthBytes;
    const b = r.outbox.lease(100)!;
    const got = decoded(b);
    assert.deepEqual(got.map((x) => x.tsMs), [TRUE_T0, TRUE_T0 + 1_000, TRUE_T0 + 2_000]);
    assert.ok(got.every((x) => x.timeCorrected && !x.timeFlag));
    // The depth in bytes follows the rewritten payloads (it is what maxBytes bounds).
    const stored = new Database(r.path, { readonly: true });
    const onDisk = stored.prepare('SELECT SUM(LENGTH(payload)) AS b, COUNT(mono_ms) AS m FROM readings').get() as { b: number; m: number };
    stored.close();
    assert.equal(r.outbox.stats().depthBytes, onDisk.b);
    assert.ok(r.outbox.stats().depthBytes > depthBefore, 'time_corrected adds bytes to each payload');
    assert.equal(onDisk.m, 0, 'the stamps are cleared once corrected');
    // The lease left the batch unacked: after a restart the same corrected bytes go again.
    r.outbox.close();
    const again = new SqliteOutbox({ path: r.path });
    assert.deepEqual(again.unacked().map(decoded)[0]!.map((x) => x.tsMs), [TRUE_T0, TRUE_T0 + 1_000, TRUE_T0 + 2_000]);
    again.close();
  });

  it('a reading stamped before a reboot is flagged at its stamped time; one of this boot behind it waits; readings behind a held one wait too', async () => {
    const r = await rig('reboot', 'b0');
    await stampAndAppend(r, 0);
    r.outbox.close();
    // The reboot: a new boot id and the monotonic clock from zero; still unsynchronised.
    const r2 = await rig('reboot', 'b1');
    r2.t.mono = 5_000;
    await stampAndAppend(r2, 1);
    await r2.outbox.append([{ deviceId: 'd1', tsMs: TRUE_T0 + 3, metrics: { seq: 2 }, source: v1.SourceProtocol.SOURCE_PROTOCOL_MQTT }]);
    const first = decoded(r2.outbox.lease(100)!);
    assert.equal(first.length, 1, 'only the pre-reboot reading goes: the next one is held, and the device-timed one behind it keeps its place');
    assert.equal(first[0]!.timeFlag, 'FL_ERR_CLOCK_REBOOTED');
    assert.equal(first[0]!.tsMs, TRUE_T0 - YEAR_MS, 'sent at the untrusted time it was stamped with');
    assert.equal(first[0]!.timeCorrected, false);
    r2.t.mono += HOLD;
    r2.t.wall += HOLD;
    const rest = decoded(r2.outbox.lease(100)!);
    assert.deepEqual(rest.map((x) => [x.metrics!.seq, x.timeFlag]), [[1, 'FL_ERR_CLOCK_UNSYNCED'], [2, '']]);
    assert.equal(rest[1]!.tsMs, TRUE_T0 + 3, 'a device-supplied time is untouched');
    r2.outbox.close();
  });

  it('after a hold the outbox does not ask again before holdRecheckMs: the forwarder pumps every 20 ms', async () => {
    const r = await rig('recheck', 'b1', 60_000);
    await stampAndAppend(r, 0);
    assert.equal(r.outbox.lease(100), null);
    await r.sync();
    assert.equal(r.outbox.lease(100), null, 'asked again within holdRecheckMs');
    r.outbox.close();
  });

  it('an outbox file from before the clock columns gains them, and its rows lease unchanged', async () => {
    const path = join(dir, 'old.db');
    const db = new Database(path);
    db.exec(`CREATE TABLE readings (id INTEGER PRIMARY KEY AUTOINCREMENT, device_id TEXT NOT NULL, received_ms INTEGER NOT NULL,
      n_values INTEGER NOT NULL, payload BLOB NOT NULL, rkey TEXT, rdigest BLOB)`);
    const payload = Buffer.from(v1.Reading.encode({ deviceId: 'd1', tsMs: TRUE_T0, metrics: { seq: 1 } }).finish());
    db.prepare('INSERT INTO readings (device_id, received_ms, n_values, payload) VALUES (?, ?, ?, ?)').run('d1', TRUE_T0, 1, payload);
    db.close();
    const r = await rig('unused');
    r.outbox.close();
    const o = new SqliteOutbox({ path, retime: retimeHook(r.clock, HOLD) });
    const b = o.lease(100)!;
    assert.deepEqual(Buffer.from(b.readings[0]!), payload);
    o.close();
    const look = new Database(path, { readonly: true });
    const cols = (look.pragma('table_info(readings)') as { name: string }[]).map((c) => c.name);
    look.close();
    assert.ok(cols.includes('mono_ms') && cols.includes('boot_id'), cols.join(','));
  });
});
