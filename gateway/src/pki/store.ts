// The issue index, pki/index.json: every certificate the CA issued to a device (serial, validity,
// revocation). It is the shared state between the `device` commands and a running gateway, so it
// is one small file written atomically (files.ts) that the gateway re-reads when its inode changes
// (revocation.ts). Writers (the CLI, possibly two at once) take pki/index.lock first.
import { closeSync, existsSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayError } from '../errors.js';
import { writeAtomic } from './files.js';
import { PKI } from './names.js';

export interface CertRecord {
  deviceId: string;
  /** Upper-case hex, no leading zeros (ca.ts normalizeSerial). */
  serial: string;
  issuedAt: string;
  notBefore: string;
  notAfter: string;
  revokedAt?: string;
  reason?: string;
}

export type CertState = 'valid' | 'expired' | 'revoked';

/** One row of `device list` and GET /pki/devices. */
export interface PkiCertificateRow extends CertRecord {
  state: CertState;
}

interface IndexFile {
  version: 1;
  certificates: CertRecord[];
}

export function stateOf(rec: CertRecord, now = Date.now()): CertState {
  if (rec.revokedAt) return 'revoked';
  return Date.parse(rec.notAfter) <= now ? 'expired' : 'valid';
}

/** The index's records; none when no certificate was issued yet. */
export function readIndex(dir: string): CertRecord[] {
  const file = join(dir, PKI.index);
  if (!existsSync(file)) return [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new GatewayError('FL_ERR_PKI_DAMAGED', `${file}: ${(err as Error).message}`, { cause: err });
  }
  const certs = (parsed as Partial<IndexFile> | null)?.certificates;
  if (!Array.isArray(certs)) throw new GatewayError('FL_ERR_PKI_DAMAGED', `${file}: expected {"version": 1, "certificates": [...]}`);
  return certs as CertRecord[];
}

/** Every certificate with its state, by device id, oldest issue first. */
export function listCertificates(dir: string, now = Date.now()): PkiCertificateRow[] {
  return readIndex(dir)
    .map((r) => ({ ...r, state: stateOf(r, now) }))
    .sort((a, b) => a.deviceId.localeCompare(b.deviceId) || a.issuedAt.localeCompare(b.issuedAt));
}

const LOCK_WAIT_MS = 10_000;

/**
 * Runs `change` on the index under pki/index.lock and writes back what it returns. A lock left by a
 * process that died is taken over; one held by a live process is waited for up to 10 s.
 */
export async function updateIndex<T>(dir: string, change: (records: CertRecord[]) => Promise<{ records: CertRecord[]; result: T }>): Promise<T> {
  return withPkiLock(dir, async () => {
    const { records, result } = await change(readIndex(dir));
    const body: IndexFile = { version: 1, certificates: records };
    writeAtomic(join(dir, PKI.index), JSON.stringify(body, null, 2) + '\n', 0o600);
    return result;
  });
}

/**
 * Runs `fn` holding pki/index.lock: every writer of pki/ (the index, the CRL, and the CA and server
 * certificate with their keys, which must never be written as a mismatched pair by two processes).
 * Not reentrant.
 */
export async function withPkiLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const lock = join(dir, 'index.lock');
  await acquire(lock);
  try {
    return await fn();
  } finally {
    rmSync(lock, { force: true });
  }
}

async function acquire(lock: string): Promise<void> {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      const fd = openSync(lock, 'wx', 0o600);
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    if (!holderAlive(lock)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new GatewayError('FL_ERR_PKI_LOCKED', `${lock} is held by process ${readFileSync(lock, 'utf8').trim()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function holderAlive(lock: string): boolean {
  let pid: number;
  try {
    pid = Number.parseInt(readFileSync(lock, 'utf8'), 10);
  } catch {
    return true; // just released or being written: look again
  }
  // Empty: a writer between creating the file and writing its pid, unless it has been so for long.
  if (!Number.isInteger(pid) || pid <= 0) return Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? 0) < 2_000;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
