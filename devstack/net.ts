/**
 * Ports and child processes for the tests that run against real services.
 *
 * Every process started here runs in its own process group, so stopping it also stops whatever it
 * forked (PostgreSQL's backends, for one). Live groups are remembered and killed if the test process
 * exits or is terminated before it stopped them: a failed test must not leave a broker behind.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  existsSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

export interface FreePortOptions {
  /**
   * Pick a port below the kernel's ephemeral range. Use this for a server that tests stop and start
   * again on the same port: while it is down, a client reconnecting to 127.0.0.1:P can be given P as
   * its own source port and connect to itself, and then the server cannot bind P when it comes back.
   * Ports handed out by `bind(0)` come from exactly that range.
   */
  stable?: boolean;
  host?: string;
}

/** A TCP port that nothing listens on right now (it can still be taken before you bind it). */
export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  const [port] = await freePorts(1, opts);
  return port as number;
}

/** `count` distinct free ports; they are held together while chosen, so they never repeat. */
export async function freePorts(count: number, opts: FreePortOptions = {}): Promise<number[]> {
  const host = opts.host ?? '127.0.0.1';
  const held: Array<ReturnType<typeof createServer>> = [];
  try {
    if (!opts.stable) {
      for (let i = 0; i < count; i++) held.push(await listenOn(0, host));
    } else {
      const [low, high] = stablePortRange();
      for (let attempt = 0; held.length < count; attempt++) {
        if (attempt > 500) throw new Error(`no free port found in ${low}-${high} on ${host}`);
        const candidate = low + Math.floor(Math.random() * (high - low));
        try {
          held.push(await listenOn(candidate, host));
        } catch {
          // taken: try another one
        }
      }
    }
    return held.map((server) => {
      const address = server.address();
      if (address === null || typeof address === 'string') throw new Error('server has no TCP address');
      return address.port;
    });
  } finally {
    await Promise.all(held.map((server) => new Promise<void>((resolve) => server.close(() => resolve()))));
  }
}

/** A server listening on exactly `port` (rejects with EADDRINUSE when it is taken); close it when done. */
export function listenOn(port: number, host: string): Promise<ReturnType<typeof createServer>> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ port, host, exclusive: true }, () => resolve(server));
  });
}

/** Ports from 20000 up to the start of the ephemeral range (Linux default 32768). */
function stablePortRange(): [number, number] {
  let ephemeralLow = 32768;
  try {
    const text = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8');
    const low = Number.parseInt(text.trim().split(/\s+/)[0] ?? '', 10);
    if (Number.isFinite(low)) ephemeralLow = low;
  } catch {
    // not Linux: keep the default
  }
  // A tuned system can start the ephemeral range low; then fall back to a high, rarely used band.
  return ephemeralLow > 21000 ? [20000, ephemeralLow] : [61000, 65000];
}

/** Resolves once a TCP connection to host:port succeeds; rejects after timeoutMs. */
export async function waitForPort(port: number, host = '127.0.0.1', timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await canConnect(port, host)) return;
    if (Date.now() >= deadline) throw new Error(`nothing accepted connections on ${host}:${port} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

function canConnect(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export interface SpawnLoggedOptions {
  /** Directory for the log file; created if missing. */
  logDir: string;
  /** Log file name inside logDir (default `<basename of cmd>.log`). Output is appended, so restarts share one log. */
  logName?: string;
  /** Empty the log first (a new server, rather than a restart of one). */
  truncate?: boolean;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (the caller must be root). */
  uid?: number;
  gid?: number;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface LoggedProcess {
  readonly pid: number;
  readonly logFile: string;
  /** Settles when the process exits, however that happens. */
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
  /**
   * Sends `signal` (default SIGTERM) to the whole process group, waits up to timeoutMs for the
   * process to exit, then SIGKILLs the group. Anything left in the group afterwards is killed too.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<ProcessExit>;
  /** The last `bytes` of the log file. */
  logTail(bytes?: number): string;
}

const liveGroups = new Set<number>();
const dirsToRemove = new Set<string>();
let exitHooksInstalled = false;
let signalsHandled = true;

/**
 * For a program that stops its services itself on Ctrl-C or SIGTERM (the dev stack, the demo): the
 * clean-up hooks then act only when the process exits, instead of SIGKILLing every service the
 * moment a signal arrives, which would cost Kafka its clean shutdown. Call before starting anything.
 */
export function leaveSignalsToCaller(): void {
  signalsHandled = false;
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', cleanUpNow);
  if (!signalsHandled) return;
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      cleanUpNow();
      process.removeListener(signal, onSignal);
      // With no listener left the default action applies again: die of the same signal.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

function cleanUpNow(): void {
  for (const pgid of liveGroups) killGroup(pgid, 'SIGKILL');
  liveGroups.clear();
  for (const dir of dirsToRemove) rmSync(dir, { recursive: true, force: true });
  dirsToRemove.clear();
}

/**
 * Removes `dir` when the test process exits, unless the returned function is called first (do that
 * once the directory has been cleaned up normally). For scratch directories of servers a failed
 * test may never get to destroy.
 */
export function removeOnExit(dir: string): () => void {
  installExitHooks();
  dirsToRemove.add(dir);
  return () => {
    dirsToRemove.delete(dir);
  };
}

function killGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal);
    return true;
  } catch {
    return false; // ESRCH: the group is already gone
  }
}

/**
 * Starts `cmd` in a new process group with stdout and stderr appended to `<logDir>/<logName>`,
 * so service chatter stays out of the test output but is there to read when something fails.
 */
export function spawnLogged(cmd: string, args: readonly string[], opts: SpawnLoggedOptions): LoggedProcess {
  mkdirSync(opts.logDir, { recursive: true });
  const logFile = join(opts.logDir, opts.logName ?? `${cmd.split('/').pop() ?? 'process'}.log`);
  const fd = openSync(logFile, opts.truncate ? 'w' : 'a');
  let child: ChildProcess;
  try {
    child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: true,
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
  } finally {
    closeSync(fd); // the child holds its own copy
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`could not start ${cmd} ${args.join(' ')} (see ${logFile})`);
  }
  installExitHooks();
  liveGroups.add(pid);
  let exit: ProcessExit | undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  // Keep the test process free to exit while a server runs; the exit hooks clean up.
  child.unref();

  const handle: LoggedProcess = {
    pid,
    logFile,
    exited,
    running: () => exit === undefined,
    logTail: (bytes = 4000) => readTail(logFile, bytes),
    async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 20_000): Promise<ProcessExit> {
      // Unref'd at spawn so a leaked server cannot hang the test process; while we wait for it
      // to exit, it must keep Node alive.
      child.ref();
      if (exit === undefined) {
        killGroup(pid, signal);
        const cancel = new AbortController();
        const timer = sleep(timeoutMs, 'timeout' as const, { signal: cancel.signal }).catch(() => 'cancelled' as const);
        const first = await Promise.race([exited, timer]);
        cancel.abort();
        if (first === 'timeout') killGroup(pid, 'SIGKILL');
      }
      const result = await exited;
      // The leader is gone; make sure nothing it forked outlives it.
      killGroup(pid, 'SIGKILL');
      liveGroups.delete(pid);
      return result;
    },
  };
  return handle;
}

function readTail(file: string, bytes: number): string {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return '';
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

export interface WaitUntilOptions {
  /** What is being waited for, for the error message ("Kafka on 127.0.0.1:20123"). */
  what: string;
  timeoutMs: number;
  intervalMs?: number;
  /** Give up at once if this process exits, and put its log tail in the error. */
  process?: LoggedProcess;
}

/**
 * Polls `ready` until it returns true. On timeout, or when the watched process dies first, throws an
 * error that carries the end of the process's log, since that is where the reason is.
 */
export async function waitUntil(ready: () => Promise<boolean>, opts: WaitUntilOptions): Promise<void> {
  const deadline = Date.now() + opts.timeoutMs;
  const interval = opts.intervalMs ?? 100;
  for (;;) {
    if (opts.process !== undefined && !opts.process.running()) {
      const exit = await opts.process.exited;
      throw startupError(opts.process, `${opts.what} exited during start-up (code ${exit.code}, signal ${exit.signal})`);
    }
    if (await ready()) return;
    if (Date.now() >= deadline) {
      const message = `${opts.what} was not ready within ${opts.timeoutMs} ms`;
      throw opts.process === undefined ? new Error(message) : startupError(opts.process, message);
    }
    await sleep(interval);
  }
}

/** An Error whose message ends with the tail of the process's log. */
export function startupError(proc: LoggedProcess, message: string): Error {
  return new Error(`${message}\n--- last lines of ${proc.logFile} ---\n${proc.logTail()}`);
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a short command to completion and collects its output; never throws for a non-zero exit. */
export function run(
  cmd: string,
  args: readonly string[],
  opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string; uid?: number; gid?: number } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
      timeout: opts.timeoutMs ?? 60_000,
      killSignal: 'SIGKILL',
      ...(opts.uid === undefined ? {} : { uid: opts.uid }),
      ...(opts.gid === undefined ? {} : { gid: opts.gid }),
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.once('error', reject);
    child.once('close', (code) =>
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') }),
    );
    child.stdin.on('error', () => undefined); // the command may exit without reading its input
    child.stdin.end(opts.input ?? '');
  });
}

/** Like `run`, but throws with the command's output when it does not exit 0. */
export async function runOk(cmd: string, args: readonly string[], opts: Parameters<typeof run>[2] = {}): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.code}\n${result.stderr}${result.stdout}`.trimEnd());
  }
  return result;
}

/** The repository root: the nearest directory above this file that holds package.json and devstack/. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'devstack'))) return dir;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no repository root above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}

/** Where service logs go unless a test says otherwise: $FIELDLINE_TEST_LOGS, else <repo>/.cache/test-logs. */
export function defaultLogDir(): string {
  return process.env.FIELDLINE_TEST_LOGS ?? join(repoRoot(), '.cache', 'test-logs');
}

/** $FIELDLINE_CACHE, defaulting to <repo>/.cache: downloads and templates that outlive a test run. */
export function cacheDir(): string {
  return process.env.FIELDLINE_CACHE ?? join(repoRoot(), '.cache');
}

const CACHE_MARKER = '.fetched';

/**
 * Returns `dir`, building it first unless its marker file holds `digest`. `build` fills a scratch
 * directory beside `dir`, which is then renamed into place, so a half-finished or concurrent build
 * never leaves a mix of old and new files. The marker is written last.
 */
export async function buildCached(dir: string, digest: string, build: (scratch: string) => Promise<void>): Promise<string> {
  if (cacheMarkerMatches(dir, digest)) return dir;
  const parent = dirname(dir);
  mkdirSync(parent, { recursive: true });
  const scratch = mkdtempSync(join(parent, `${basename(dir)}.building-`));
  try {
    chmodSync(scratch, 0o755); // mkdtemp makes it private; the cache is not secret
    await build(scratch);
    writeFileSync(join(scratch, CACHE_MARKER), `${digest}\n`);
    if (!cacheMarkerMatches(dir, digest)) {
      rmSync(dir, { recursive: true, force: true });
      try {
        renameSync(scratch, dir);
      } catch (err) {
        // Another process put its build in place first; that one is as good as ours.
        if (!cacheMarkerMatches(dir, digest)) throw err;
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  return dir;
}

function cacheMarkerMatches(dir: string, digest: string): boolean {
  try {
    return readFileSync(join(dir, CACHE_MARKER), 'utf8').trim() === digest;
  } catch {
    return false;
  }
}
