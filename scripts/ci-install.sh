#!/usr/bin/env bash
# Installs everything `npm test` needs on a clean Debian 12 machine (run as root): system packages,
# node_modules, and Apache Kafka's jars for the test broker. Idempotent: each step checks first, so
# a second run on the same machine does nothing and takes seconds.
#
# Node.js 20+ must already be installed (Debian 12's own nodejs is 18).
# FIELDLINE_FORCE_NPM_CI=1 reinstalls node_modules even when they match package-lock.json.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"

log() { printf 'ci-install: %s\n' "$*"; }

# --- system packages ---------------------------------------------------------------------------
packages=(
  # clients and tools the tests drive real services with
  mosquitto-clients kcat lz4 protobuf-compiler socat libcoap3-bin
  # PostgreSQL 15 server (test/support/postgres.ts)
  postgresql-15
  # Java and Maven: the test Kafka broker runs from Apache Kafka's jars (test/support/kafka.ts)
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

# --- Node.js and node_modules ----------------------------------------------------------------------
if ! command -v node >/dev/null 2>&1; then
  log "node is not installed; install Node.js 20 or later first" >&2
  exit 1
fi
node_major="$(node -p 'process.versions.node.split(".")[0]')"
if ((node_major < 20)); then
  log "node $(node -v) is too old; Fieldline needs Node.js 20 or later" >&2
  exit 1
fi

# node-gyp would otherwise download Node's headers; a packaged Node ships them.
if [[ -d /usr/include/node ]]; then
  export npm_config_nodedir=/usr
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
# Same layout and marker as ensureKafkaJars() in test/support/kafka.ts: the marker holds the SHA-256
# of the pom the jars were fetched with; the fetch goes to a scratch dir renamed into place.
pom=test/support/kafka/pom.xml
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
