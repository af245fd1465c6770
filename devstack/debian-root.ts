// A minimal Debian 12 root file system for the install tests: debootstrap --variant=minbase plus
// systemd (so the root can boot under systemd-nspawn), made once per machine by
// scripts/debian-root.sh and kept as a tarball in $FIELDLINE_CACHE (a few seconds to unpack).
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir, repoRoot } from './net.js';

/** The tarball scripts/debian-root.sh makes once per machine (it says how). */
export function debianTarball(): string {
  const out = execFileSync('bash', [join(repoRoot(), 'scripts', 'debian-root.sh')], {
    encoding: 'utf8',
    env: { ...process.env, FIELDLINE_CACHE: cacheDir() },
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 25 * 60_000,
  });
  return out.trim().split('\n').at(-1) as string;
}

/** A fresh copy of the root in dir (which must be empty or absent). */
export function unpackDebianRoot(dir: string): void {
  const tarball = debianTarball();
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-xzf', tarball], { timeout: 10 * 60_000 });
}
