#!/usr/bin/env bash
# The minimal Debian 12 root the install test boots under systemd-nspawn (test/deploy/
# install-nspawn.test.ts, through devstack/debian-root.ts): debootstrap --variant=minbase plus
# systemd, made once per machine and kept as a tarball in $FIELDLINE_CACHE. Prints the tarball's
# path. scripts/ci-install.sh runs it in the background while the rest installs, so the test finds
# it made; run alone it takes a minute or two on a quiet machine.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cache="${FIELDLINE_CACHE:-$repo/.cache}"
case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=amd64 ;; esac
suite=bookworm
# systemd and its sysv shim: the root boots; passwd: useradd for install.sh; the shared libraries
# node-rdkafka links (install.sh would apt-get them, which would cost every run a download).
include=systemd,systemd-sysv,passwd,ca-certificates,libsasl2-2,libzstd1,libssl3
tarball="$cache/debian-$suite-minbase-fieldline1-$arch.tar.gz"
if [[ -f "$tarball" ]]; then
  echo "$tarball"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "debian-root: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
mkdir -p "$cache"
scratch="$(mktemp -d "$cache/debootstrap-XXXXXX")"
trap 'rm -rf "$scratch"' EXIT
debootstrap --variant=minbase --arch="$arch" --include="$include" "$suite" "$scratch/root" http://deb.debian.org/debian >"$scratch/debootstrap.log" 2>&1 \
  || { tail -20 "$scratch/debootstrap.log" >&2; exit 1; }
# The downloaded .debs are half the size and never used again.
rm -rf "$scratch/root/var/cache/apt/archives"
mkdir -p "$scratch/root/var/cache/apt/archives/partial"
tar -C "$scratch/root" --numeric-owner -czf "$scratch/root.tar.gz" .
mv "$scratch/root.tar.gz" "$tarball"
echo "$tarball"
