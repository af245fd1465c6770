// Reads the lake with DuckDB SQL, for cold queries (the query API) and for checks.
//
// Two views, redefined before each query so new files are seen:
// - `lake_rows`: every row of every file under readings/, plus `range_id` (p<partition>-o<first
//   offset>, from the file name).
// - `readings`: the rows the database holds. A batch a gateway resent (its delivery report was
//   lost) is on Kafka twice, at two offsets; the database's ledger keeps it once, and so does this
//   view, by keeping a row only from the earliest range holding its (gateway, seq, device, metric,
//   ts). All five are window partition keys, so DuckDB still pushes a query's filters on device,
//   metric or time down into the Parquet scans.
//
// DuckDB cannot read s3:// here: httpfs is not built into @duckdb/node-api (duckdb_extensions()
// lists it NOT_INSTALLED) and the lake never installs extensions at run time. For a bucket the
// reader mirrors the objects into a local cache folder, fetching only keys that are new or changed.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { DuckDBValue, JS } from '@duckdb/node-api';
import type { Logger } from 'pino';
import type { CloudConfig } from '../config/schema.js';
import { CloudError } from '../errors.js';
import { destinationFor, type LakeDestination } from './destination.js';
import { openDuck, sqlString, type Duck } from './duckdb.js';
import { parseFileKey, READINGS_DIR } from './layout.js';

export interface LakeReaderOptions {
  /** The lake folder (a local destination's root): read in place. */
  dir?: string;
  /** Or an object-store destination, mirrored into `cacheDir` before each query. */
  destination?: LakeDestination;
  cacheDir?: string;
  /** How old a mirror may be before a query syncs it again, in ms (default 5,000). */
  syncIntervalMs?: number;
  threads?: number;
  memoryLimit?: string;
}

export type LakeValue = JS;

const COLUMNS = 'ts, gateway_id, device_id, metric, value, batch_seq';
const INDEX_FILE = '.lake-index.json';

export class LakeReader {
  private lastSync = 0;
  private syncing: Promise<{ downloaded: number; removed: number }> | null = null;
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly duck: Duck,
    /** The folder DuckDB reads: the lake itself, or the mirror of a bucket. */
    readonly root: string,
    private readonly remote: LakeDestination | null,
    private readonly syncIntervalMs: number,
  ) {}

  static async open(opts: LakeReaderOptions): Promise<LakeReader> {
    const remote = opts.dir === undefined ? (opts.destination ?? null) : null;
    const root = resolve(opts.dir ?? opts.cacheDir ?? '');
    if (opts.dir === undefined && (remote === null || opts.cacheDir === undefined)) {
      throw new TypeError('LakeReader needs a lake folder, or a destination and a cache folder');
    }
    await mkdir(root, { recursive: true });
    const duck = await openDuck({
      threads: opts.threads ?? 1,
      memoryLimit: opts.memoryLimit ?? '512MB',
      tempDirectory: join(root, '_staging', 'reader-duckdb'),
    });
    // A query over a long range opens thousands of hourly files; their footers (schema, row-group
    // statistics) do not change once written, so each is parsed once per process, not per query.
    await duck.conn.run('SET parquet_metadata_cache = true');
    return new LakeReader(duck, root, remote, opts.syncIntervalMs ?? 5_000);
  }

  /** The reader for the lake the cloud's config names. */
  static async fromConfig(cfg: CloudConfig, log: Logger): Promise<LakeReader> {
    const dataDir = resolve(cfg.dataDir);
    if (cfg.lake.destination === 'local') return LakeReader.open({ dir: cfg.lake.dir ?? join(dataDir, 'lake') });
    const destination = await destinationFor(cfg.lake, dataDir, log);
    return LakeReader.open({ destination, cacheDir: cfg.lake.s3.cacheDir ?? join(dataDir, 'lake-cache') });
  }

  /**
   * Brings the mirror of a bucket up to date: fetches objects that are new or changed (by ETag),
   * removes files whose objects are gone. A no-op for a local lake.
   */
  sync(): Promise<{ downloaded: number; removed: number }> {
    this.syncing ??= this.syncNow().finally(() => {
      this.syncing = null;
    });
    return this.syncing;
  }

  /** Rows in the `readings` view: what the database would hold. */
  async readingsCount(): Promise<number> {
    const rows = await this.query('SELECT count(*) AS n FROM readings');
    return Number(rows[0]?.n ?? 0);
  }

  /** Runs SQL over the views `readings` and `lake_rows`; values come back as JS (Date, bigint, number, string). */
  async query(sql: string, params?: DuckDBValue[]): Promise<Record<string, LakeValue>[]> {
    if (this.remote && Date.now() - this.lastSync >= this.syncIntervalMs) await this.sync();
    return this.serial(async () => {
      try {
        await this.defineViews();
        const r = await this.duck.conn.runAndReadAll(sql, params);
        return r.getRowObjectsJS();
      } catch (err) {
        throw new CloudError('FL_ERR_LAKE_READ', (err as Error).message, { cause: err });
      }
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.duck.close();
    await this.remote?.close();
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async defineViews(): Promise<void> {
    const { conn } = this.duck;
    const glob = join(this.root, READINGS_DIR, '**', '*.parquet');
    const files = await conn.runAndReadAll(`SELECT count(*) AS n FROM glob(${sqlString(glob)})`);
    const any = Number(files.getRowObjectsJS()[0]?.n ?? 0) > 0;
    // read_parquet fails on a pattern that matches nothing; an empty lake is an empty table.
    const source = any
      ? `SELECT ${COLUMNS}, regexp_extract(filename, 'part-(p[0-9]+-o[0-9]+)-', 1) AS range_id
           FROM read_parquet(${sqlString(glob)}, hive_partitioning = false, filename = true)`
      : `SELECT NULL::TIMESTAMPTZ AS ts, NULL::VARCHAR AS gateway_id, NULL::VARCHAR AS device_id, NULL::VARCHAR AS metric,
                NULL::DOUBLE AS value, NULL::BIGINT AS batch_seq, NULL::VARCHAR AS range_id WHERE false`;
    await conn.run(`CREATE OR REPLACE TEMP VIEW lake_rows AS ${source}`);
    await conn.run(
      `CREATE OR REPLACE TEMP VIEW readings AS
         SELECT ${COLUMNS} FROM lake_rows
        QUALIFY range_id = min(range_id) OVER (PARTITION BY gateway_id, batch_seq, device_id, metric, ts)`,
    );
  }

  private async syncNow(): Promise<{ downloaded: number; removed: number }> {
    const remote = this.remote;
    if (!remote) return { downloaded: 0, removed: 0 };
    const indexPath = join(this.root, INDEX_FILE);
    const index: Record<string, string> = await readFile(indexPath, 'utf8').then((t) => JSON.parse(t) as Record<string, string>, () => ({}));
    const objects = (await remote.list(`${READINGS_DIR}/`)).filter((o) => parseFileKey(o.key) !== null);
    const wanted = new Set(objects.map((o) => o.key));
    let downloaded = 0;
    let removed = 0;
    for (const o of objects) {
      if (index[o.key] === o.version) continue;
      const bytes = await remote.get(o.key);
      if (bytes === null) continue; // deleted since the listing
      const path = join(this.root, ...o.key.split('/'));
      await mkdir(join(path, '..'), { recursive: true });
      // Written aside and renamed, so a query running meanwhile never reads half a file.
      await writeFile(`${path}.part`, bytes);
      await rename(`${path}.part`, path);
      index[o.key] = o.version;
      downloaded++;
    }
    for (const key of Object.keys(index)) {
      if (wanted.has(key)) continue;
      await rm(join(this.root, ...key.split('/')), { force: true });
      delete index[key];
      removed++;
    }
    await writeFile(`${indexPath}.part`, JSON.stringify(index));
    await rename(`${indexPath}.part`, indexPath);
    this.lastSync = Date.now();
    return { downloaded, removed };
  }
}
