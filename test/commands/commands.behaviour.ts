// The commands table's behaviour (issue 15), run on every store backend (CONVENTIONS point 5): status
// moves forward only, whoever sends the event and in whatever order; the expiry sweep, driven by an
// injected clock, expires exactly the commands still queued past their expiry and grace; two
// sweepers, or two consumers applying events, at once never move a row twice.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommandStore, EXPIRED_REASON, type CommandRow } from '../../cloud-sink/src/commands/store.js';
import { COMMAND_STATUSES, PREDECESSORS, type CommandStatus } from '../../cloud-sink/src/commands/wire.js';
import type { Db } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';

export interface CommandsBackend {
  name: string;
  /** A new, empty database; the suite closes it. */
  open(): Promise<Db>;
  /** A second handle on the same database (its own connections), for the races; none: the first is shared. */
  openSecond?(): Promise<Db>;
}

const T0 = Date.UTC(2026, 10, 30, 8, 0, 0);
const GRACE = 5_000;

export function commandsBehaviour(backend: CommandsBackend): void {
  describe(`commands on ${backend.name}`, () => {
    let db: Db;
    let other: Db;
    let a: CommandStore;
    let b: CommandStore;
    let n = 0;

    before(async () => {
      db = await backend.open();
      await new Store(db).migrate();
      other = backend.openSecond ? await backend.openSecond() : db;
      a = new CommandStore(db);
      b = new CommandStore(other);
    });
    after(async () => {
      if (other !== db) await other.close();
      await db.close();
    });

    const make = (over: { expiresInS?: number; device?: string; at?: number } = {}): Promise<CommandRow> =>
      a.create({ deviceId: over.device ?? `dev-${++n}`, gatewayId: 'gw-1', name: 'reboot', payload: { n }, expiresInS: over.expiresInS ?? 60, createdBy: 'test' }, over.at ?? T0);
    const force = (id: string, status: CommandStatus) => db.query(`UPDATE commands SET status = $2 WHERE id = $1`, [id, status]);
    const statusOf = async (id: string) => (await a.get(id))!.status;
    const event = (row: CommandRow, status: CommandStatus, error?: string) =>
      ({ id: row.id, device_id: row.device_id, gateway_id: row.gateway_id, status, ts_ms: T0, ...(error ? { error } : {}) });

    it('moves a command forward only: every (current status, event status) pair, 25 of them', async () => {
      const got: string[] = [];
      const want: string[] = [];
      for (const from of COMMAND_STATUSES) {
        for (const to of COMMAND_STATUSES) {
          const row = await make();
          await force(row.id, from);
          const outcome = await a.apply(event(row, to), T0 + 1_000);
          const forward = PREDECESSORS[to].includes(from);
          got.push(`${from}→${to}: ${outcome}, now ${await statusOf(row.id)}`);
          want.push(`${from}→${to}: ${forward ? 'applied' : from === to ? 'duplicate' : 'backwards'}, now ${forward ? to : from}`);
        }
      }
      assert.deepEqual(got, want);
      // The contract's own lines, spelt out, so the table above cannot drift from them unnoticed.
      for (const [from, to] of [['queued', 'delivered'], ['delivered', 'acknowledged'], ['delivered', 'failed'], ['queued', 'failed'], ['queued', 'expired']] as const) {
        assert.ok(PREDECESSORS[to].includes(from), `${from} → ${to} is allowed`);
      }
      for (const [from, to] of [['acknowledged', 'delivered'], ['failed', 'acknowledged'], ['expired', 'delivered'], ['delivered', 'expired'], ['delivered', 'queued']] as const) {
        assert.ok(!PREDECESSORS[to].includes(from), `${from} → ${to} is refused`);
      }
    });

    it('keeps the error of a failure, stamps updated_at with the cloud\'s clock, and leaves unknown ids and another gateway\'s events alone', async () => {
      const row = await make();
      assert.equal(await a.apply(event(row, 'delivered'), T0 + 2_000), 'applied');
      assert.equal(await a.apply(event(row, 'failed', 'FL_ERR_MODBUS_WRITE: slave said no'), T0 + 3_000), 'applied');
      const after = (await a.get(row.id))!;
      assert.deepEqual([after.status, after.error, after.updated_at.getTime()], ['failed', 'FL_ERR_MODBUS_WRITE: slave said no', T0 + 3_000]);
      assert.equal(await a.apply(event(row, 'failed'), T0 + 4_000), 'duplicate');
      assert.equal((await a.get(row.id))!.error, 'FL_ERR_MODBUS_WRITE: slave said no', 'a repeat without error keeps it');

      assert.equal(await a.apply({ ...event(row, 'delivered'), id: 'no-such-command' }, T0), 'unknown');
      const fresh = await make();
      assert.equal(await a.apply({ ...event(fresh, 'acknowledged'), gateway_id: 'gw-impostor' }, T0), 'wrong_gateway');
      assert.equal(await statusOf(fresh.id), 'queued');
    });

    it('the sweep expires exactly the commands still queued past expiry + grace, by the injected clock, with the reason and the event owed', async () => {
      await db.query(`UPDATE commands SET status = 'acknowledged' WHERE status = 'queued'`);
      const soon = await make({ expiresInS: 10 });
      const later = await make({ expiresInS: 20 });
      const taken = await make({ expiresInS: 10 });
      assert.equal(await a.apply(event(taken, 'delivered'), T0 + 1_000), 'applied');
      const deadline = T0 + 10_000 + GRACE;
      assert.deepEqual(await a.expireDue(deadline - 1, GRACE), [], 'not one millisecond early');
      assert.deepEqual(await a.expireDue(deadline, GRACE), [soon.id]);
      const row = (await a.get(soon.id))!;
      assert.deepEqual(
        [row.status, row.error, row.event_pending, row.updated_at.getTime()],
        ['expired', EXPIRED_REASON, 'expired', deadline],
      );
      assert.match(EXPIRED_REASON, /^FL_ERR_COMMANDS_EXPIRED: /);
      assert.deepEqual(await a.expireDue(deadline + 1_000, GRACE), [], 'a second sweep finds nothing new');
      assert.equal(await statusOf(taken.id), 'delivered', 'a command the device has does not expire');
      assert.equal(await statusOf(later.id), 'queued');
      assert.equal(await a.apply(event(soon, 'delivered'), deadline + 2_000), 'backwards', 'a late delivered does not revive it');
    });

    it('two sweepers at once expire each command once between them', async () => {
      await db.query(`UPDATE commands SET status = 'acknowledged' WHERE status = 'queued'`);
      const rows: CommandRow[] = [];
      for (let i = 0; i < 60; i++) rows.push(await make({ expiresInS: 1 + (i % 3) }));
      const now = T0 + 10_000 + GRACE;
      const results = await Promise.all([a.expireDue(now, GRACE), b.expireDue(now, GRACE), a.expireDue(now, GRACE), b.expireDue(now, GRACE)]);
      const all = results.flat();
      assert.equal(new Set(all).size, all.length, 'no command expired twice');
      assert.deepEqual([...all].sort(), rows.map((r) => r.id).sort());
    });

    it('two consumers racing terminal events on one command: one wins, the other is a refused backwards move', async () => {
      for (let i = 0; i < 10; i++) {
        const row = await make();
        await force(row.id, 'delivered');
        const outcomes = await Promise.all([a.apply(event(row, 'acknowledged'), T0), b.apply(event(row, 'failed', 'FL_ERR_X: timeout'), T0)]);
        assert.deepEqual([...outcomes].sort(), ['applied', 'backwards'], outcomes.join());
        const final = await statusOf(row.id);
        assert.equal(final, outcomes[0] === 'applied' ? 'acknowledged' : 'failed');
      }
    });

    it('lists what Kafka lacks: a new command and its queued event until marked; an unsent command past expiry is not sent, its expired event is', async () => {
      await db.query(`UPDATE commands SET sent_at = now(), event_pending = NULL`);
      const row = await make({ expiresInS: 30, at: T0 });
      assert.deepEqual((await a.unpublished(T0, 100)).map((r) => [r.id, r.event_pending, r.sent_at]), [[row.id, 'queued', null]]);
      await a.markEventPublished(row.id, 'queued');
      assert.deepEqual((await a.unpublished(T0, 100)).map((r) => [r.id, r.event_pending]), [[row.id, null]], 'the command itself is still owed');
      await a.markSent(row.id, T0 + 10);
      assert.deepEqual(await a.unpublished(T0, 100), []);
      assert.equal(await a.apply(event(row, 'delivered'), T0 + 20), 'applied');

      const stranded = await make({ expiresInS: 30, at: T0 });
      await a.markEventPublished(stranded.id, 'queued');
      assert.deepEqual(await a.unpublished(T0 + 31_000, 100), [], 'past its expiry an unsent command is not sent any more');
      await a.expireDue(T0 + 31_000 + GRACE, GRACE);
      const owed = await a.unpublished(T0 + 40_000, 100);
      assert.deepEqual(owed.map((r) => [r.id, r.status, r.event_pending]), [[stranded.id, 'expired', 'expired']]);
      await a.markEventPublished(stranded.id, 'queued');
      assert.equal((await a.get(stranded.id))!.event_pending, 'expired', 'marking an older event leaves the newer one owed');
      await a.markEventPublished(stranded.id, 'expired');
      assert.deepEqual(await a.unpublished(T0 + 40_000, 100), []);
    });

    it('lists a device\'s commands newest first by (created_at, id), with the status filter and the page bound', async () => {
      const device = 'dev-list';
      const made: CommandRow[] = [];
      for (let i = 0; i < 4; i++) made.push(await make({ device, at: T0 + (i < 2 ? 0 : i) * 1_000 }));
      await force(made[3]!.id, 'delivered');
      const rows = await a.list({ deviceId: device, limit: 10 });
      const tie = [made[0]!.id, made[1]!.id].sort().reverse();
      assert.deepEqual(rows.map((r) => r.id), [made[3]!.id, made[2]!.id, ...tie]);
      const last = rows[1]!;
      assert.deepEqual((await a.list({ deviceId: device, limit: 10, before: { us: Number(last.us), id: last.id } })).map((r) => r.id), tie);
      assert.deepEqual((await a.list({ deviceId: device, status: 'delivered', limit: 10 })).map((r) => r.id), [made[3]!.id]);
      assert.equal((await a.list({ deviceId: device, limit: 2 })).length, 2);
    });
  });
}
