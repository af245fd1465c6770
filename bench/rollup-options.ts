// The measurement behind the vanilla-PostgreSQL ingest path (docs/ARCHITECTURE.md, "Rollups on
// vanilla PostgreSQL"): the same rows, the same batches per call, each way of writing readings and
// keeping readings_1m/1h/1d on a real PostgreSQL 15, one fresh database per way. Every way writes
// the ledger rows in its transaction, as Store.ingest does; `store` is Store.ingest itself (which
// also keeps `gateways` and `devices`). Each result is checked: rows counted back, and for the ways
// with rollups, the rollups' count sums equal to the rows. Run alone: `node dist/bench/rollup-options.js`
// (BENCH_ROLLUP_BATCHES, default 120 batches of 2,500 two-metric messages; BENCH_ROLLUP_WAYS, a
// comma-separated subset).
import { BinaryCopyWriter, epochMsToUs } from '../cloud-sink/src/store/copy.js';
import { openPostgres, type Db, type DbTx } from '../cloud-sink/src/store/db.js';
import { DAY_US, HOUR_US, MINUTE_US, RollupFold } from '../cloud-sink/src/store/rollup.js';
import { rollupMergePartials, rollupUpsert, ROLLUPS } from '../cloud-sink/src/store/schema.js';
import { encodePartials, Store, type IngestBatch } from '../cloud-sink/src/store/store.js';
import { startPostgres, type PgServer } from '../devstack/postgres.js';
import { runIfMain } from './run-alone.js';
import { makeBenchBatches } from './store.js';

interface Row {
  us: number;
  gw: string;
  dev: string;
  met: string;
  value: number;
}

type Way = (db: Db, batches: readonly IngestBatch[], table: string) => Promise<number>;

function rowsOf(batches: readonly IngestBatch[]): Row[] {
  const out: Row[] = [];
  for (const b of batches) {
    for (const r of b.readings as { deviceId: string; tsMs: number; metrics: Record<string, number> }[]) {
      for (const [met, value] of Object.entries(r.metrics)) out.push({ us: epochMsToUs(r.tsMs), gw: b.gatewayId, dev: r.deviceId, met, value });
    }
  }
  return out;
}

async function ledger(tx: DbTx, batches: readonly IngestBatch[]): Promise<void> {
  await tx.query(
    `INSERT INTO ingested_batches (gateway_id, seq, created_ms, reading_count)
     SELECT * FROM unnest($1::text[], $2::int8[], $3::int8[], $4::int4[]) ON CONFLICT DO NOTHING`,
    [batches.map((b) => b.gatewayId), batches.map((b) => b.seq), batches.map((b) => b.createdMs), batches.map((b) => b.readings.length * 2)],
  );
}

function binary(rows: readonly Row[]): Buffer[] {
  const w = new BinaryCopyWriter(5);
  for (const r of rows) {
    w.beginRow(w.rowBytes([r.gw, r.dev, r.met], 24));
    w.timestampUs(r.us);
    w.textField(r.gw);
    w.textField(r.dev);
    w.textField(r.met);
    w.float8(r.value);
  }
  return w.finish();
}

/** COPY text format: tab-separated, with backslash, tab, newline and carriage return escaped. */
function text(rows: readonly Row[]): Buffer[] {
  const esc = (s: string): string => (/[\\\t\n\r]/.test(s) ? s.replace(/[\\\t\n\r]/g, (c) => ({ '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' })[c]!) : s);
  const lines: string[] = [];
  for (const r of rows) {
    const ms = Math.floor(r.us / 1000);
    const iso = new Date(ms).toISOString(); // yyyy-mm-ddThh:mm:ss.mmmZ for the years a sensor sends
    const micros = String(r.us - ms * 1000).padStart(3, '0');
    lines.push(`${iso.slice(0, 23)}${micros}Z\t${esc(r.gw)}\t${esc(r.dev)}\t${esc(r.met)}\t${String(r.value)}\n`);
  }
  return [Buffer.from(lines.join(''), 'utf8')];
}

const COLUMNS = '(ts, gateway_id, device_id, metric, value)';

/**
 * A table like readings before any rollup: its columns and its (device_id, metric, ts DESC) index,
 * not readings_1m's minute index, which is part of what the rollups cost.
 */
export async function createBare(db: Db): Promise<void> {
  await db.query('CREATE TABLE bare (LIKE readings INCLUDING DEFAULTS INCLUDING CONSTRAINTS)');
  await db.query('CREATE INDEX bare_device_metric_ts ON bare (device_id, metric, ts DESC)');
}

function unnestInsert(table: string): string {
  return `INSERT INTO ${table} ${COLUMNS}
          SELECT timestamptz 'epoch' + u.us * INTERVAL '1 microsecond', u.gw, u.dev, u.met, u.val
            FROM unnest($1::float8[], $2::text[], $3::text[], $4::text[], $5::float8[]) AS u(us, gw, dev, met, val)`;
}

const columns = (rows: readonly Row[]): unknown[] => [rows.map((r) => r.us), rows.map((r) => r.gw), rows.map((r) => r.dev), rows.map((r) => r.met), rows.map((r) => r.value)];

/** Partial buckets folded in JS for `levels` (1m, 1h, 1d: indexes into ROLLUPS), merged by arrays or from a staged binary COPY. */
async function mergeFold(tx: DbTx, rows: readonly Row[], levels: number[], staged: boolean): Promise<void> {
  const widths = [MINUTE_US, HOUR_US, DAY_US];
  const fold = new RollupFold(levels.map((l) => widths[l]!));
  for (const r of rows) fold.add(r.us, r.dev, r.met, r.value);
  const parts = fold.levels();
  if (staged) {
    await tx.query(`CREATE TEMPORARY TABLE IF NOT EXISTS partials (
             level smallint, n integer, bucket timestamptz, device_id text, metric text, sum float8, count int8,
             min float8, max float8, last float8, last_ts timestamptz) ON COMMIT DELETE ROWS`);
    await tx.copyFrom!('COPY partials FROM STDIN (FORMAT binary)', encodePartials(parts));
    for (let l = 0; l < levels.length; l++) {
      const merge = rollupMergePartials(ROLLUPS[levels[l]!]!.view);
      await tx.query(
        `INSERT INTO ${ROLLUPS[levels[l]!]!.view} AS t (bucket, device_id, metric, avg, min, max, count, last, last_ts)
         SELECT bucket, device_id, metric, sum / count, min, max, count, last, last_ts FROM partials WHERE level = ${l} ORDER BY n
         ${merge.slice(merge.indexOf('ON CONFLICT'))}`,
      );
    }
    return;
  }
  for (let l = 0; l < levels.length; l++) {
    const p = parts[l]!;
    await tx.query(rollupMergePartials(ROLLUPS[levels[l]!]!.view), [
      p.map((x) => x.bucketUs), p.map((x) => x.deviceId), p.map((x) => x.metric), p.map((x) => x.sum), p.map((x) => x.count),
      p.map((x) => x.min), p.map((x) => x.max), p.map((x) => x.last), p.map((x) => x.lastUs),
    ]);
  }
}

const CTE_OVER_ARRAYS = rollupUpsert(
  `SELECT timestamptz 'epoch' + u.us * INTERVAL '1 microsecond' AS ts, u.device_id, u.metric, u.value
     FROM unnest($1::float8[], $2::text[], $3::text[], $4::float8[]) AS u(us, device_id, metric, value)`,
);

/** Every way gets the whole call's rows; `table` is readings, or the bare copy of it for the bare ways. */
const WAYS: Record<string, { table: 'readings' | 'bare'; rollups: boolean; run: Way }> = {
  'bare: binary COPY, no ledger, no rollups': {
    table: 'bare', rollups: false,
    run: (db, batches, table) => db.transaction(async (tx) => tx.copyFrom!(`COPY ${table} ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rowsOf(batches)))),
  },
  'bare: text COPY, no ledger, no rollups': {
    table: 'bare', rollups: false,
    run: (db, batches, table) => db.transaction(async (tx) => tx.copyFrom!(`COPY ${table} ${COLUMNS} FROM STDIN`, text(rowsOf(batches)))),
  },
  'bare: INSERT … unnest, no ledger, no rollups': {
    table: 'bare', rollups: false,
    run: (db, batches, table) => db.transaction(async (tx) => {
      const rows = rowsOf(batches);
      for (let i = 0; i < rows.length; i += 10_000) await tx.query(unnestInsert(table), columns(rows.slice(i, i + 10_000)));
      return rows.length;
    }),
  },
  'ledger + INSERT … unnest + one CTE over the same arrays (before issue 10)': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      for (let i = 0; i < rows.length; i += 10_000) {
        const c = columns(rows.slice(i, i + 10_000));
        await tx.query(unnestInsert('readings'), c);
        await tx.query(CTE_OVER_ARRAYS, [c[0], c[2], c[3], c[4]]);
      }
      return rows.length;
    }),
  },
  'ledger + binary COPY + one CTE over arrays': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      const n = await tx.copyFrom!(`COPY readings ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rows));
      for (let i = 0; i < rows.length; i += 10_000) {
        const c = columns(rows.slice(i, i + 10_000));
        await tx.query(CTE_OVER_ARRAYS, [c[0], c[2], c[3], c[4]]);
      }
      return n;
    }),
  },
  'ledger + binary COPY into a staging table, then readings and one CTE from it': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      await tx.query(`CREATE TEMP TABLE IF NOT EXISTS staging (LIKE readings) ON COMMIT DELETE ROWS`);
      const n = await tx.copyFrom!(`COPY staging ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rowsOf(batches)));
      await tx.query(`INSERT INTO readings SELECT * FROM staging`);
      await tx.query(rollupUpsert('SELECT ts, device_id, metric, value FROM staging'));
      return n;
    }),
  },
  'ledger + binary COPY + partial buckets folded in JS, merged per level (unnest)': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      const n = await tx.copyFrom!(`COPY readings ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rows));
      await mergeFold(tx, rows, [0, 1, 2], false);
      return n;
    }),
  },
  'ledger + binary COPY + partial buckets folded in JS, merged per level from a staged binary COPY': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      const n = await tx.copyFrom!(`COPY readings ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rows));
      await mergeFold(tx, rows, [0, 1, 2], true);
      return n;
    }),
  },
  'ledger + binary COPY + JS partial buckets for 1h and 1d only (readings_1m a view without index)': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      const n = await tx.copyFrom!(`COPY readings ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rows));
      await mergeFold(tx, rows, [1, 2], false);
      return n;
    }),
  },
  'ledger + binary COPY + JS partial buckets for 1h and 1d only (readings_1m a view with an index on its minute)': {
    table: 'readings', rollups: true,
    run: (db, batches) => db.transaction(async (tx) => {
      await ledger(tx, batches);
      const rows = rowsOf(batches);
      const n = await tx.copyFrom!(`COPY readings ${COLUMNS} FROM STDIN (FORMAT binary)`, binary(rows));
      await mergeFold(tx, rows, [1, 2], false);
      return n;
    }),
  },
  'Store.ingest (ledger, binary COPY, JS partial buckets merged from a staged binary COPY, gateways, devices)': {
    table: 'readings', rollups: true,
    run: async (db, batches) => (await new Store(db).ingest(batches)).rowsInserted,
  },
};

export interface RollupOptionsResult {
  rows: number;
  batchesPerCall: number;
  ways: { way: string; rowsPerSecond: number; seconds: number }[];
}

export async function benchRollupOptions(opts: { batches?: number; batchesPerCall?: number; spacingMs?: number; ways?: string[] } = {}): Promise<RollupOptionsResult> {
  const batches = makeBenchBatches(opts.batches ?? 120, 2500, opts.spacingMs ?? 1000);
  const perCall = opts.batchesPerCall ?? 4;
  const expected = batches.length * 2500 * 2;
  const server: PgServer = await startPostgres();
  const chosen = Object.entries(WAYS).filter(([name]) => !opts.ways || opts.ways.some((w) => name.includes(w)));
  const dbs: Db[] = [];
  try {
    for (const [name, way] of chosen) {
      const db = await openPostgres(await server.createDatabase(`ways_${dbs.length + 1}`), 2);
      dbs.push(db);
      await new Store(db).migrate();
      await createBare(db);
      // The other shapes measured: readings_1m a view over readings, with or without an index on
      // (device_id, metric, minute) so that a range of one series' minutes can be read by index.
      if (name.includes('a view')) {
        await db.query('DROP TABLE readings_1m');
        await db.query(`CREATE VIEW readings_1m AS
          SELECT date_bin(INTERVAL '1 minute', ts, timestamptz 'epoch') AS bucket, device_id, metric, sum(value) / count(*) AS avg,
                 min(value) AS min, max(value) AS max, count(*) AS count, (array_agg(value ORDER BY ts DESC))[1] AS last
            FROM readings GROUP BY 1, device_id, metric`);
        if (name.includes('with an index')) {
          await db.query(`CREATE INDEX readings_minute ON readings (device_id, metric, date_bin(INTERVAL '1 minute', ts, timestamptz 'epoch'))`);
        }
      }
    }
    await dbs[0]?.query('CHECKPOINT');
    // Call by call in turn, so a change in the machine's load falls on every way alike.
    const seconds = chosen.map(() => 0);
    const rows = chosen.map(() => 0);
    for (let i = 0; i < batches.length; i += perCall) {
      const call = batches.slice(i, i + perCall);
      for (let k = 0; k < chosen.length; k++) {
        const [, way] = chosen[k]!;
        const started = performance.now();
        rows[k]! += await way.run(dbs[k]!, call, way.table);
        seconds[k]! += (performance.now() - started) / 1000;
      }
    }
    const ways: RollupOptionsResult['ways'] = [];
    for (let k = 0; k < chosen.length; k++) {
      const [name, way] = chosen[k]!;
      const db = dbs[k]!;
      const back = Number((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${way.table}`)).rows[0]?.n);
      if (rows[k] !== expected || back !== expected) throw new Error(`${name}: ${rows[k]} rows reported, ${back} counted, ${expected} sent`);
      if (way.rollups) {
        for (const r of ROLLUPS) {
          const sum = Number((await db.query<{ n: number }>(`SELECT sum(count)::int AS n FROM ${r.view}`)).rows[0]?.n);
          if (sum !== expected) throw new Error(`${name}: ${r.view} counts ${sum} rows, ${expected} sent`);
        }
      }
      ways.push({ way: name, rowsPerSecond: Math.round(expected / seconds[k]!), seconds: Number(seconds[k]!.toFixed(2)) });
    }
    return { rows: expected, batchesPerCall: perCall, ways };
  } finally {
    for (const db of dbs) await db.close();
    await server.destroy();
  }
}

runIfMain(import.meta.url, () =>
  benchRollupOptions({
    batches: Number(process.env.BENCH_ROLLUP_BATCHES ?? 120),
    spacingMs: Number(process.env.BENCH_ROLLUP_SPACING_MS ?? 1000),
    ...(process.env.BENCH_ROLLUP_WAYS ? { ways: process.env.BENCH_ROLLUP_WAYS.split(',') } : {}),
  }),
);
