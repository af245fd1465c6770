// One way to open DuckDB for the lake, writer and reader alike: in memory, Parquet only (it is built
// into @duckdb/node-api), and never an extension fetched or loaded at run time. A query that would
// need one (s3:// paths need httpfs, which these bindings do not include) fails instead of
// downloading code from the network.
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';

export interface DuckOptions {
  threads: number;
  /** e.g. "512MB". */
  memoryLimit: string;
  /** Where DuckDB spills when a sort outgrows memoryLimit. */
  tempDirectory: string;
}

export interface Duck {
  instance: DuckDBInstance;
  conn: DuckDBConnection;
  close(): void;
}

export async function openDuck(opts: DuckOptions): Promise<Duck> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(opts.threads),
    memory_limit: opts.memoryLimit,
    temp_directory: opts.tempDirectory,
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    allow_community_extensions: 'false',
  });
  const conn = await instance.connect();
  // TIMESTAMPTZ values print and bucket in the session's zone; the lake is UTC throughout.
  await conn.run(`SET TimeZone = 'UTC'`);
  return {
    instance,
    conn,
    close() {
      conn.closeSync();
      instance.closeSync();
    },
  };
}

/** A SQL string literal. */
export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}
