// The store behaviour suite on a real PostgreSQL 15 without TimescaleDB, the shape the cloud takes
// with DATABASE_URL pointing at a vanilla server; plus what only a server can do: go away.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { StoreError } from '../../cloud-sink/src/errors.js';
import { openDb, openPostgres, sqlState, type Db } from '../../cloud-sink/src/store/db.js';
import { Store } from '../../cloud-sink/src/store/store.js';
import { startPostgres, type PgServer } from '../../devstack/postgres.js';
import { storeBehaviour } from './store.behaviour.js';

describe('store on PostgreSQL 15', () => {
  let server: PgServer;
  let databases = 0;
  const freshDatabase = async (): Promise<string> => server.createDatabase(`store_${++databases}`);

  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.destroy();
  });

  storeBehaviour({
    name: 'vanilla PostgreSQL 15',
    open: async () => openPostgres(await freshDatabase(), 4),
    expect: { timescaledb: false, continuousAggregates: false },
  });

  describe('server backend', () => {
    it('openDb with a database URL picks the server backend', async () => {
      const db = await openDb({ databaseUrl: await freshDatabase(), dataDir: '/nonexistent/never-used', poolSize: 2 });
      try {
        assert.equal(db.kind, 'postgres');
      } finally {
        await db.close();
      }
    });

    it('a COPY the server refuses fails its transaction with the SQLSTATE, rolls back what came before it, and leaves the pool usable', async () => {
      const db = await openPostgres(await freshDatabase(), 1);
      try {
        await db.query('CREATE TABLE t (a int8 NOT NULL)');
        const attempt = db.transaction(async (tx) => {
          await tx.query('INSERT INTO t VALUES (1)');
          const good = Buffer.from('2\n3\n');
          assert.equal(await tx.copyFrom!('COPY t FROM STDIN', [good]), 2);
          // Binary COPY requires its signature: this is text, so the server refuses it.
          await tx.copyFrom!('COPY t FROM STDIN (FORMAT binary)', [Buffer.from('not a binary copy')]);
        });
        await assert.rejects(attempt, (err: unknown) => sqlState(err) === '22P04');
        assert.deepEqual((await db.query('SELECT count(*)::int AS n FROM t')).rows, [{ n: 0 }]);
        await db.transaction(async (tx) => tx.copyFrom!('COPY t FROM STDIN', [Buffer.from('4\n')]));
        assert.deepEqual((await db.query('SELECT a FROM t')).rows, [{ a: 4 }]);
      } finally {
        await db.close();
      }
    });

    it('a vanilla server takes no timescale settings and says so; refreshRange and runPolicyJobs do nothing', async () => {
      const store = new Store(await openPostgres(await freshDatabase(), 2));
      try {
        await store.migrate();
        const settings = { chunkInterval: '1 day', compression: true, compressAfter: '7 days', readingsRetention: '30 days',
          rollupRetention: { readings_1m: null, readings_1h: null, readings_1d: null } };
        assert.deepEqual(await store.applyTimescaleSettings(settings), { timescaledb: false, changes: [] });
        assert.deepEqual(await store.runPolicyJobs(), []);
        await store.refreshRange(0, Date.now());
      } finally {
        await store.close();
      }
    });

    it('rollup buckets merged again by a later ingest stay on their page (HOT updates into the free space migration 8 leaves), and stay exact', async () => {
      const store = new Store(await openPostgres(await freshDatabase(), 2));
      try {
        await store.migrate();
        const opts = await store.db.query<{ relname: string; reloptions: string[] | null }>(
          `SELECT relname, reloptions FROM pg_class WHERE relname IN ('readings_1m', 'readings_1h', 'readings_1d') ORDER BY relname`,
        );
        assert.deepEqual(opts.rows.map((r) => [r.relname, r.reloptions]), [
          ['readings_1d', ['fillfactor=50']], ['readings_1h', ['fillfactor=50']], ['readings_1m', ['fillfactor=50']],
        ]);
        // 400 buckets per level: several pages each. In full pages a second merge would move every
        // updated row to another page; with the free space each new version stays beside the old.
        const t0 = Date.UTC(2026, 0, 1, 12);
        const batch = (seq: number, value: number) => ({
          gatewayId: 'gw-hot', seq, createdMs: t0,
          readings: Array.from({ length: 400 }, (_, d) => ({ deviceId: `hot-device-${d}`, tsMs: t0 + seq * 1_000, metrics: { temperature: value } })),
        });
        await store.ingest([batch(1, 10)]);
        const pages = async (): Promise<Map<string, string>> => new Map(
          (await store.db.query<{ device_id: string; page: string }>(`SELECT device_id, split_part(trim(ctid::text, '()'), ',', 1) AS page FROM readings_1d`)).rows
            .map((r) => [r.device_id, r.page]),
        );
        const before = await pages();
        assert.ok(new Set(before.values()).size > 1, 'the buckets span several pages');
        await store.ingest([batch(2, 30)]);
        const after = await pages();
        const moved = [...before].filter(([device, page]) => after.get(device) !== page).length;
        assert.equal(moved, 0, `${moved} of 400 updated buckets moved to another page`);
        const r = await store.db.query<{ n: number; count: number; avg: number; min: number; max: number }>(
          `SELECT count(*)::int AS n, min(count)::int AS count, avg(avg) AS avg, min(min) AS min, max(max) AS max FROM readings_1d`,
        );
        assert.deepEqual(r.rows[0], { n: 400, count: 2, avg: 20, min: 10, max: 30 });
      } finally {
        await store.close();
      }
    });

    it('an unreachable server is FL_ERR_STORE_UNAVAILABLE at open', async () => {
      const url = new URL(server.url);
      url.port = String(server.port === 1 ? 2 : 1);
      await assert.rejects(openPostgres(url.toString(), 1), (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_STORE_UNAVAILABLE');
    });

    it('a connection lost between two statements of a transaction fails the transaction with FL_ERR_STORE_UNAVAILABLE, not the process', async () => {
      const db = await openPostgres(await freshDatabase(), 2);
      try {
        const attempt = db.transaction(async (tx) => {
          const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          // Killed from another connection while this one is idle in its transaction: pg's client
          // emits 'error' with no query running, which without a listener ends the process.
          await db.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
          await new Promise((r) => setTimeout(r, 200));
          await tx.query('SELECT 1');
        });
        await assert.rejects(attempt, (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_STORE_UNAVAILABLE');
        // The pool carries on with a fresh connection.
        assert.deepEqual((await db.query<{ n: number }>('SELECT 1 AS n')).rows, [{ n: 1 }]);
      } finally {
        await db.close();
      }
    });

    it('while the server is down ingest fails with FL_ERR_STORE_UNAVAILABLE; after it returns the same batch lands once', async () => {
      let db: Db | undefined;
      try {
        db = await openPostgres(await freshDatabase(), 2);
        const store = new Store(db);
        await store.migrate();
        const b = { gatewayId: 'gw-out', seq: 1, createdMs: 0, readings: [{ deviceId: 'dev-out', tsMs: Date.UTC(2025, 0, 1), metrics: { v: 1 } }] };
        await server.stop();
        await assert.rejects(store.ingest([b]), (err: unknown) => err instanceof StoreError && err.code === 'FL_ERR_STORE_UNAVAILABLE' && err.statusCode === 503);
        await server.start();
        // The pool drops the connections the restart broke and opens new ones by itself.
        let result: Awaited<ReturnType<Store['ingest']>> | undefined;
        for (let i = 0; i < 20 && result === undefined; i++) {
          result = await store.ingest([b]).catch(async (err: unknown) => {
            if (!(err instanceof StoreError && err.code === 'FL_ERR_STORE_UNAVAILABLE')) throw err;
            await new Promise((r) => setTimeout(r, 100));
            return undefined;
          });
        }
        assert.equal(result?.batchesInserted, 1);
        assert.equal((await store.ingest([b])).batchesSkipped, 1);
        assert.equal(await store.countReadings({ deviceId: 'dev-out' }), 1);
      } finally {
        await server.start();
        await db?.close();
      }
    });
  });
});
