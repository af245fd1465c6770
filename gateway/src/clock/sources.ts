// Where the gateway learns whether its wall clock is right. Node cannot call adjtimex(2) itself and
// no native addon is shipped for it, so `system` asks, in order:
//   1. the kernel, through adjtimex(2) with modes = 0 (read-only, unprivileged) from a two-line
//      python3 ctypes helper. This is the state every NTP daemon (chrony, systemd-timesyncd, ntpd)
//      maintains, so it works whichever one the image runs, and also inside a container, where the
//      host's daemon disciplines the shared kernel clock. STA_UNSYNC clear and maxerror below 16 s is
//      exactly what `timedatectl`'s NTPSynchronized reports (systemd's timedated reads the same call).
//   2. systemd-timesyncd's flag file /run/systemd/timesync/synchronized (systemd ≥ 239, Raspberry Pi
//      OS and Debian's default daemon), for images without python3.
//   3. neither readable (a slim container): only a clock before RELEASE_FLOOR_MS is known to be
//      wrong (the idea of systemd's TIME_EPOCH); anything later is taken as right and says so.
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { GatewayError } from '../errors.js';

/** What a source says at one poll. */
export interface SourceReading {
  synced: boolean;
  /** Added to the system wall clock to get the gateway's wall clock: non-zero only for the test clock. */
  offsetMs: number;
  /** How the verdict was reached, for /status and the log. */
  detail: string;
  /** Replaces the kernel's boot id: the test clock simulates a reboot with it. */
  bootId?: string;
}

export interface ClockSource {
  readonly name: string;
  read(): Promise<SourceReading>;
}

/** Before this no gateway of this release ran: a wall clock earlier than it is wrong whatever NTP says. */
export const RELEASE_FLOOR_MS = Date.UTC(2026, 0, 1);

export const trustedSource: ClockSource = {
  name: 'trusted',
  read: async () => ({ synced: true, offsetMs: 0, detail: 'clock.source is trusted' }),
};

/**
 * A JSON file `{"offsetMs": number, "synced": boolean, "bootId"?: string}`: the gateway's clock is
 * the system clock plus offsetMs. A file that is missing or malformed throws FL_ERR_CLOCK_FILE; the
 * clock keeps its previous state and logs it.
 */
export function fileSource(path: string): ClockSource {
  return {
    name: 'file',
    async read() {
      let body: unknown;
      try {
        body = JSON.parse(readFileSync(path, 'utf8'));
      } catch (err) {
        throw new GatewayError('FL_ERR_CLOCK_FILE', `${path}: ${(err as Error).message}`);
      }
      const b = body as { offsetMs?: unknown; synced?: unknown; bootId?: unknown };
      const offsetMs = b?.offsetMs ?? 0;
      if (typeof offsetMs !== 'number' || !Number.isFinite(offsetMs) || typeof b.synced !== 'boolean' || (b.bootId !== undefined && typeof b.bootId !== 'string')) {
        throw new GatewayError('FL_ERR_CLOCK_FILE', `${path}: expected {"offsetMs": number, "synced": boolean, "bootId"?: string}, got ${JSON.stringify(body).slice(0, 200)}`);
      }
      return { synced: b.synced, offsetMs, detail: `test clock ${path}`, ...(typeof b.bootId === 'string' ? { bootId: b.bootId } : {}) };
    },
  };
}

/** The kernel's NTP status word and maximum error (µs), or null when it cannot be read. */
export type AdjtimexProbe = () => Promise<{ status: number; maxErrorUs: number } | null>;

/** systemd-timesyncd's view: null when timesyncd does not run here. */
export type TimesyncdProbe = () => 'synced' | 'unsynced' | null;

// struct timex begins modes (int), offset, freq, maxerror, esterror (long), status (int); ctypes lays
// the fields out as the C compiler does on the running architecture, and the padding covers the rest.
const ADJTIMEX_PY = [
  'import ctypes,ctypes.util',
  'class T(ctypes.Structure): _fields_=[("modes",ctypes.c_uint),("offset",ctypes.c_long),("freq",ctypes.c_long),("maxerror",ctypes.c_long),("esterror",ctypes.c_long),("status",ctypes.c_int),("pad",ctypes.c_byte*256)]',
  't=T(); r=ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").adjtimex(ctypes.byref(t)); print(r, t.status, t.maxerror)',
].join('\n');

export const adjtimexViaPython: AdjtimexProbe = () =>
  new Promise((resolve) => {
    execFile('python3', ['-c', ADJTIMEX_PY], { timeout: 5_000 }, (err, stdout) => {
      if (err) return resolve(null);
      const [ret, status, maxError] = stdout.trim().split(/\s+/).map(Number);
      if (ret === undefined || ret < 0 || !Number.isFinite(status) || !Number.isFinite(maxError)) return resolve(null);
      resolve({ status: status!, maxErrorUs: maxError! });
    });
  });

export const timesyncdFlag: TimesyncdProbe = () => {
  if (!existsSync('/run/systemd/timesync')) return null;
  return existsSync('/run/systemd/timesync/synchronized') ? 'synced' : 'unsynced';
};

const STA_UNSYNC = 0x0040;
/** systemd's timedated calls the clock synchronised below this maximum error. */
const MAX_ERROR_SYNCED_US = 16_000_000;

export function systemSource(probes: { adjtimex?: AdjtimexProbe; timesyncd?: TimesyncdProbe; wall?: () => number } = {}): ClockSource {
  const adjtimex = probes.adjtimex ?? adjtimexViaPython;
  const timesyncd = probes.timesyncd ?? timesyncdFlag;
  const wall = probes.wall ?? Date.now;
  // A missing python3 does not appear later: stop spawning for it after the first miss.
  let kernelReadable = true;
  return {
    name: 'system',
    async read() {
      if (kernelReadable) {
        const k = await adjtimex();
        if (k) {
          const synced = (k.status & STA_UNSYNC) === 0 && k.maxErrorUs < MAX_ERROR_SYNCED_US;
          return { synced, offsetMs: 0, detail: `kernel NTP state: ${synced ? 'synchronised' : 'unsynchronised'} (status 0x${k.status.toString(16)}, maxerror ${Math.round(k.maxErrorUs / 1000)} ms)` };
        }
        kernelReadable = false;
      }
      const t = timesyncd();
      if (t) return { synced: t === 'synced', offsetMs: 0, detail: `systemd-timesyncd: ${t === 'synced' ? 'synchronised' : 'not synchronised yet'}` };
      const now = wall();
      if (now < RELEASE_FLOOR_MS) return { synced: false, offsetMs: 0, detail: `no NTP state readable, and the clock is before ${new Date(RELEASE_FLOOR_MS).toISOString()}` };
      return { synced: true, offsetMs: 0, detail: 'no NTP state readable (no python3, no systemd-timesyncd): taken as right because it is past the release date' };
    },
  };
}
