#!/usr/bin/env bash
# Installs everything `npm test` needs on a clean Debian 12 machine (run as root): system packages,
# node_modules, and Apache Kafka's jars for the test broker. Idempotent: each step checks first, so
# a second run on the same machine does nothing and takes seconds.
#
# A Node.js with npm must already be installed (any version npm runs on); Node.js 24 is installed
# from the npm registry when it is older.
# FIELDLINE_FORCE_NPM_CI=1 reinstalls node_modules even when they match package-lock.json.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf 'ci-install: %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------------------
packages=(
  # clients and tools the tests drive real services with
  mosquitto-clients kcat lz4 protobuf-compiler socat libcoap3-bin
  # PostgreSQL 15 server (devstack/postgres.ts)
  postgresql-15
  # Java and Maven: the test Kafka broker runs from Apache Kafka's jars (devstack/kafka.ts)
  openjdk-17-jre-headless maven ca-certificates
  # native addons (node-rdkafka builds librdkafka; better-sqlite3, lz4) through node-gyp
  build-essential python3 python3-pip pkg-config libzstd-dev libssl-dev libsasl2-dev zlib1g-dev
)

missing=()
for pkg in "${packages[@]}"; do
  status="$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)"
  [[ "$status" == installed ]] || missing+=("$pkg")
done

if ((${#missing[@]} == 0)); then
  log "system packages: all ${#packages[@]} installed"
else
  log "system packages: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi

# --- Node.js 24 ------------------------------------------------------------------------------------
# Fieldline targets Node.js 24 LTS (Node 20 reached end of life in April 2026). On a machine whose
# Node is older, the official binary and its headers come from the npm registry's node-linux-<arch>
# package (the one registry this install may reach), unpacked under /opt/fieldline/ and linked as
# /usr/local/bin/node, which comes before /usr/bin on the PATH, so the `npm test` typed after this
# script runs on it too. The system npm (10.x) runs on Node 24 unchanged.
node_want=24.22.3
node_major() { "${1:-node}" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
case "$(uname -m)" in
  x86_64) node_arch=x64 ;;
  aarch64 | arm64) node_arch=arm64 ;;
  *) node_arch="" ;;
esac
if command -v node >/dev/null 2>&1 && (($(node_major) >= 24)); then
  log "node: $(node -v)"
else
  if [[ -z "$node_arch" ]]; then
    log "node: no Node.js 24 package for $(uname -m); install Node.js 24 by hand" >&2
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    log "node: npm is needed to fetch Node.js 24 (apt-get install npm, or any Node.js with npm)" >&2
    exit 1
  fi
  prefix="${FIELDLINE_NODE_PREFIX:-/opt/fieldline}/node-v$node_want-linux-$node_arch"
  if [[ ! -x "$prefix/bin/node" ]]; then
    log "node: fetching node-linux-$node_arch@$node_want from the npm registry into $prefix"
    scratch="$(mktemp -d)"
    (cd "$scratch" && npm pack --silent "node-linux-$node_arch@$node_want" >/dev/null)
    mkdir -p "$prefix.unpacking"
    tar -xzf "$scratch"/node-linux-"$node_arch"-*.tgz -C "$prefix.unpacking" --strip-components=1
    rm -rf "$scratch" "$prefix"
    mv "$prefix.unpacking" "$prefix"
  fi
  ln -sf "$prefix/bin/node" /usr/local/bin/node
  hash -r
  if (($(node_major) < 24)); then
    log "node: linked $prefix/bin/node as /usr/local/bin/node, but 'node' still is $(command -v node) ($(node -v)); put /usr/local/bin first on PATH" >&2
    exit 1
  fi
  log "node: $(node -v) at $(command -v node)"
fi

# node-gyp builds the native addons against the running Node's own headers (include/node beside
# its bin/), so it never downloads them.
node_prefix="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
if [[ -f "$node_prefix/include/node/node_api.h" ]]; then
  export npm_config_nodedir="$node_prefix"
else
  log "node: no headers under $node_prefix/include/node; node-gyp would try to download them" >&2
  exit 1
fi

# npm ci throws node_modules away and rebuilds every native addon (minutes), so skip it when the
# installed tree was made from this very lockfile by this very Node.
stamp=node_modules/.fieldline-ci-install
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node -v) $(uname -m)"
if [[ "${FIELDLINE_FORCE_NPM_CI:-0}" != 1 && -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
  log "node_modules: up to date with package-lock.json"
else
  log "node_modules: npm ci"
  npm ci
  printf '%s\n' "$want" >"$stamp"
fi

# --- Kafka jars ------------------------------------------------------------------------------------
# Same layout and marker as ensureKafkaJars() in devstack/kafka.ts: the marker holds the SHA-256
# of the pom the jars were fetched with; the fetch goes to a scratch dir renamed into place.
pom=devstack/kafka/pom.xml
libs="${FIELDLINE_CACHE:-$repo/.cache}/kafka-libs"
digest="$(sha256sum "$pom" | cut -d' ' -f1)"
if [[ -f "$libs/.fetched" && "$(cat "$libs/.fetched")" == "$digest" ]]; then
  log "kafka jars: up to date in $libs"
else
  log "kafka jars: fetching into $libs"
  mkdir -p "$(dirname "$libs")"
  scratch="$(mktemp -d "$libs.building-XXXXXX")"
  trap 'rm -rf "$scratch"' EXIT
  mvn -q -B -f "$pom" dependency:copy-dependencies -DoutputDirectory="$scratch"
  chmod 755 "$scratch"
  printf '%s\n' "$digest" >"$scratch/.fetched"
  rm -rf "$libs"
  mv "$scratch" "$libs"
  trap - EXIT
fi

# --- Python peers for the Modbus tests (a real pymodbus slave) ----------------------------------
if python3 -c 'import pymodbus, serial' 2>/dev/null; then
  log "pymodbus: installed"
else
  log "pymodbus: installing"
  python3 -m pip install --quiet --break-system-packages 'pymodbus[serial]==3.8.6' \
    || python3 -m pip install --quiet 'pymodbus[serial]==3.8.6'
fi

log "done"
