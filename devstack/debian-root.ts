// A minimal Debian 12 root file system for the install tests: debootstrap --variant=minbase plus
// systemd (so the root can boot under systemd-nspawn), made once per machine and kept as a tarball
// in $FIELDLINE_CACHE (about 1 minute and 60 MB the first time; a few seconds to unpack after).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { arch } from 'node:os';
import { join } from 'node:path';
import { cacheDir } from './net.js';

const SUITE = 'bookworm';
const MIRROR = 'http://deb.debian.org/debian';
// systemd and its sysv shim: the root boots; passwd: useradd for install.sh; the shared libraries
// node-rdkafka links (install.sh would apt-get them, which would cost every run a download).
const INCLUDE = ['systemd', 'systemd-sysv', 'passwd', 'ca-certificates', 'libsasl2-2', 'libzstd1', 'libssl3'];

export function debianTarball(): string {
  const debArch = arch() === 'arm64' ? 'arm64' : 'amd64';
  const tarball = join(cacheDir(), `debian-${SUITE}-minbase-fieldline1-${debArch}.tar.gz`);
  if (existsSync(tarball)) return tarball;
  mkdirSync(cacheDir(), { recursive: true });
  const scratch = mkdtempSync(join(cacheDir(), 'debootstrap-'));
  try {
    const root = join(scratch, 'root');
    execFileSync('debootstrap', [`--variant=minbase`, `--arch=${debArch}`, `--include=${INCLUDE.join(',')}`, SUITE, root, MIRROR], {
      stdio: ['ignore', 'ignore', 'pipe'],
      timeout: 15 * 60_000,
    });
    // The downloaded .debs are half the size and never used again.
    rmSync(join(root, 'var/cache/apt/archives'), { recursive: true, force: true });
    mkdirSync(join(root, 'var/cache/apt/archives/partial'), { recursive: true });
    execFileSync('tar', ['-C', root, '--numeric-owner', '-czf', join(scratch, 'root.tar.gz'), '.'], { timeout: 10 * 60_000 });
    renameSync(join(scratch, 'root.tar.gz'), tarball);
    return tarball;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** A fresh copy of the root in dir (which must be empty or absent). */
export function unpackDebianRoot(dir: string): void {
  const tarball = debianTarball();
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-C', dir, '--numeric-owner', '-xzf', tarball], { timeout: 10 * 60_000 });
}
