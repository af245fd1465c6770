/**
 * A real PostgreSQL 15 server for tests, in its own temp directory on its own port.
 *
 * initdb and postgres refuse to run as root, so when the tests run as root (CI does) both run as
 * the `postgres` OS user. A freshly initialised cluster is kept in the cache as a template and
 * copied for each server, which saves initdb's second on every start.
 *
 * Servers live in /dev/shm when that is a roomy tmpfs: a cluster is ~1000 small files, and creating
 * them on a disk-backed /tmp costs more than everything else in start-up.
 */
import { createHash } from 'node:crypto';
import { chownSync, mkdtempSync, readFileSync, rmSync, statfsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildCached,
  cacheDir,
  defaultLogDir,
  freePort,
  removeOnExit,
  run,
  runOk,
  spawnLogged,
  waitUntil,
  type LoggedProcess,
} from './net.js';

export interface PgServer {
  /** postgres://postgres@127.0.0.1:PORT/fieldline (trust auth, no password). */
  url: string;
  port: number;
  /** The server's temp directory (under serverBaseDir()): data/ (PGDATA) and the unix socket. Kept across stop() and start(). */
  dir: string;
  logFile: string;
  /** Fast shutdown (SIGINT: clients are disconnected), SIGKILL after 30 s. Data is kept. */
  stop(): Promise<void>;
  /** Starts the server again after stop(): same port, same data. Does nothing while it runs. */
  start(): Promise<void>;
  /** Creates a database and returns its URL. Names are plain identifiers: [a-z_][a-z0-9_]*. */
  createDatabase(name: string): Promise<string>;
  /** Runs SQL with psql (-X -A -t, ON_ERROR_STOP) and returns its output; throws on any error. */
  psql(sql: string, database?: string): Promise<string>;
  /** stop(), then remove the temp directory. */
  destroy(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Default: a free port below the ephemeral range (see FreePortOptions.stable). */
  port?: number;
  /** Database created at start; default 'fieldline'. */
  database?: string;
  /** Where the server log goes; default defaultLogDir(). */
  logDir?: string;
  /** Extra server settings (-c key=value), after the test defaults. */
  settings?: Record<string, string>;
  startTimeoutMs?: number;
}

const BIN_DIR = process.env.FIELDLINE_PG_BIN ?? '/usr/lib/postgresql/15/bin';
const PSQL = process.env.FIELDLINE_PSQL ?? '/usr/bin/psql';
const INITDB_ARGS = ['-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'];

/** Durability is not what these tests measure; crash-safety of the server itself is not under test. */
const TEST_SETTINGS: Record<string, string> = {
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  max_connections: '200',
};

interface OsUser {
  uid: number;
  gid: number;
}

/** The user initdb and postgres run as: `postgres` when we are root, otherwise ourselves. */
function serverUser(): OsUser | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'));
  const fields = line?.split(':') ?? [];
  const uid = Number(fields[2]);
  const gid = Number(fields[3]);
  if (line === undefined || !Number.isInteger(uid) || !Number.isInteger(gid)) {
    throw new Error('running as root, but there is no `postgres` user to run PostgreSQL as (install postgresql-15)');
  }
  return { uid, gid };
}

function asUser(user: OsUser | undefined): { uid?: number; gid?: number } {
  return user === undefined ? {} : { uid: user.uid, gid: user.gid };
}

/**
 * Where server directories go: $FIELDLINE_PG_TMPDIR, else /dev/shm if it is a tmpfs with at least
 * 2 GiB free (Docker's default 64 MiB is not), else the OS temp dir.
 */
export function serverBaseDir(): string {
  const configured = process.env.FIELDLINE_PG_TMPDIR;
  if (configured !== undefined && configured !== '') return configured;
  try {
    const TMPFS_MAGIC = 0x01021994;
    const shm = statfsSync('/dev/shm');
    if (shm.type === TMPFS_MAGIC && shm.bavail * shm.bsize >= 2 ** 31) return '/dev/shm';
  } catch {
    // no /dev/shm here
  }
  return tmpdir();
}

/** A directory the server user owns. */
function serverTempDir(prefix: string, user: OsUser | undefined): string {
  const dir = mkdtempSync(join(serverBaseDir(), prefix));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  return dir;
}

/** The cached template cluster for this initdb and these initdb options. */
async function clusterTemplate(user: OsUser | undefined): Promise<string> {
  const initdb = join(BIN_DIR, 'initdb');
  const version = (
    await runOk(initdb, ['--version']).catch((err: unknown) => {
      throw new Error(`PostgreSQL 15 is not installed at ${BIN_DIR} (Debian package postgresql-15): ${(err as Error).message}`);
    })
  ).stdout.trim();
  const digest = createHash('sha256').update(`${version}\n${INITDB_ARGS.join(' ')}\n${user?.uid ?? 'self'}`).digest('hex');
  return buildCached(join(cacheDir(), 'pg15-template'), digest, async (scratch) => {
    // initdb writes somewhere the server user can reach; the cache may sit under a root-only home.
    const work = serverTempDir('fieldline-initdb-', user);
    try {
      await runOk(initdb, ['-D', join(work, 'data'), ...INITDB_ARGS], { cwd: work, env: serverEnv(), ...asUser(user) });
      await runOk('cp', ['-a', join(work, 'data'), join(scratch, 'data')]);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
}

function serverEnv(): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C', TZ: 'UTC' };
}

/** Starts PostgreSQL in a new temp directory, waits until it accepts connections and creates the database. */
export async function startPostgres(opts: StartPostgresOptions = {}): Promise<PgServer> {
  const user = serverUser();
  const template = await clusterTemplate(user);
  const port = opts.port ?? (await freePort({ stable: true }));
  const database = opts.database ?? 'fieldline';
  const dir = serverTempDir('fieldline-pg-', user);
  const forgetDir = removeOnExit(dir);
  const dataDir = join(dir, 'data');
  const logDir = opts.logDir ?? defaultLogDir();
  const logName = `postgres-${port}.log`;
  const settings = { ...TEST_SETTINGS, ...opts.settings };
  const timeoutMs = opts.startTimeoutMs ?? 30_000;
  const urlFor = (db: string): string => `postgres://postgres@127.0.0.1:${port}/${db}`;
  let proc: LoggedProcess | undefined;
  let firstStart = true;

  const psql = async (sql: string, db = 'postgres'): Promise<string> => {
    const args = ['-X', '-A', '-t', '-q', '-v', 'ON_ERROR_STOP=1', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', db];
    const result = await runOk(PSQL, [...args, '-c', sql], { timeoutMs: 60_000, env: { ...process.env, PGCONNECT_TIMEOUT: '5' } });
    return result.stdout;
  };

  const start = async (): Promise<void> => {
    if (proc?.running()) return;
    const args = ['-D', dataDir, '-p', String(port), '-h', '127.0.0.1', '-k', dir];
    for (const [key, value] of Object.entries(settings)) args.push('-c', `${key}=${value}`);
    const started = spawnLogged(join(BIN_DIR, 'postgres'), args, {
      logDir,
      logName,
      truncate: firstStart,
      cwd: dir,
      env: serverEnv(),
      ...asUser(user),
    });
    firstStart = false;
    proc = started;
    try {
      const isReady = join(BIN_DIR, 'pg_isready');
      const readyArgs = ['-q', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'postgres', '-t', '2'];
      await waitUntil(async () => (await run(isReady, readyArgs, { timeoutMs: 5000 })).code === 0, {
        what: `PostgreSQL on 127.0.0.1:${port}`,
        timeoutMs,
        intervalMs: 50,
        process: started,
      });
    } catch (err) {
      await started.stop('SIGKILL');
      throw err;
    }
  };

  const stop = async (): Promise<void> => {
    await proc?.stop('SIGINT', 30_000);
  };

  const createDatabase = async (name: string): Promise<string> => {
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new Error(`database name ${JSON.stringify(name)} is not a plain identifier`);
    await psql(`CREATE DATABASE ${name}`);
    return urlFor(name);
  };

  const server: PgServer = {
    url: urlFor(database),
    port,
    dir,
    logFile: join(logDir, logName),
    stop,
    start,
    createDatabase,
    psql,
    async destroy() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
      forgetDir();
    },
  };

  try {
    await runOk('cp', ['-a', join(template, 'data'), dataDir]);
    await start();
    await createDatabase(database);
  } catch (err) {
    await server.destroy();
    throw err;
  }
  return server;
}
