#!/usr/bin/env bash
# Installs everything `npm test` needs on a clean Debian 12 machine (run as root): system packages,
# node_modules, Apache Kafka's jars for the test broker, the Python peers, Go, and the Go program
# the tests run (SeaweedFS's weed; buf comes with node_modules). Idempotent: each step checks
# first, so a second run on the same machine does nothing and takes seconds.
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
  # the Mosquitto broker the MQTT bench compares the gateway with (bench/mqtt-compare.ts); only
  # ever started by the bench on a free port, never as the system service
  mosquitto
  # PostgreSQL 15 server (devstack/postgres.ts)
  postgresql-15
  # Java and Maven: the test Kafka broker runs from Apache Kafka's jars (devstack/kafka.ts)
  openjdk-17-jre-headless maven ca-certificates
  # native addons (node-rdkafka builds librdkafka; better-sqlite3, lz4) through node-gyp
  build-essential python3 python3-pip python3-venv pkg-config libzstd-dev libssl-dev libsasl2-dev zlib1g-dev
  # headless Chromium for the dashboard's browser test (driven by playwright-core), with a font
  chromium fonts-dejavu-core
  # the deploy tests: a Debian root made by debootstrap, booted under systemd-nspawn
  debootstrap systemd-container
  # the gateway's tests on arm64 (scripts/arm64-prepare.sh, test/arm64): the emulator, a cross
  # compiler for the native addons, and file(1) to check what was built
  qemu-user-static g++-aarch64-linux-gnu file
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
# Debian's mosquitto package starts a broker on port 1883 where systemd runs, which is the demo's
# MQTT port: the bench starts its own, so the system one stays off.
if command -v systemctl > /dev/null && systemctl is-enabled mosquitto > /dev/null 2>&1; then
  systemctl disable --now mosquitto > /dev/null 2>&1 || true
fi

# --- Go ----------------------------------------------------------------------------------------
# SeaweedFS's weed (the tests' S3 server, devstack/seaweedfs.ts) is built from source with one pinned Go release (GO_TOOLCHAIN in
# devstack/go.ts). Debian 12's golang is 1.19: too old to build it (SeaweedFS needs go >= 1.26.6)
# and too old to fetch a newer toolchain itself (GOTOOLCHAIN came with Go 1.21). So a go >= 1.21
# already on the PATH is kept: the builds set GOTOOLCHAIN=$go_want, which makes it fetch and run
# exactly that release from the Go module proxy. Without one, the release is fetched here the way
# go itself does it (module golang.org/toolchain from the module proxy, checked against the
# checksum database's h1: hash pinned below), unpacked under /opt/fieldline, linked as /usr/local/bin/go.
go_want=go1.26.8
go_minor() { go env GOVERSION 2>/dev/null | sed -nE 's/^go1\.([0-9]+).*/\1/p'; }
if command -v go >/dev/null 2>&1 && (($(go_minor || true) + 0 >= 21)); then
  log "go: $(go env GOVERSION) at $(command -v go); the builds run $go_want"
else
  case "$(uname -m)" in
    x86_64) go_arch=amd64 go_h1='h1:ZOmGe1OnfREDMIdb1Qi4G9JSuDPBLGExZMQ4nis1RXM=' ;;
    aarch64 | arm64) go_arch=arm64 go_h1='h1:sYL/O6MqS68ML0kjsQ36WoYIpJqkw60TxizWUYUKQMc=' ;;
    *)
      log "go: no pinned $go_want toolchain for $(uname -m); install Go >= 1.21 by hand" >&2
      exit 1
      ;;
  esac
  go_module="golang.org/toolchain@v0.0.1-$go_want.linux-$go_arch"
  goroot="${FIELDLINE_GO_PREFIX:-/opt/fieldline}/$go_want.linux-$go_arch"
  if [[ ! -x "$goroot/bin/go" ]]; then
    log "go: fetching $go_module from the Go module proxy into $goroot"
    rm -rf "$goroot.unpacking"
    python3 - "https://proxy.golang.org/golang.org/toolchain/@v/v0.0.1-$go_want.linux-$go_arch.zip" \
      "$go_h1" "$go_module/" "$goroot.unpacking" <<'EOF'
import base64, hashlib, io, os, sys, urllib.request, zipfile
url, want, prefix, dest = sys.argv[1:5]
with urllib.request.urlopen(url, timeout=600) as response:
    archive = zipfile.ZipFile(io.BytesIO(response.read()))
# The h1: hash (golang.org/x/mod/sumdb/dirhash Hash1): SHA-256 of "<sha256 hex>  <name>\n" for every file, by name.
files = sorted(i.filename for i in archive.infolist() if not i.is_dir())
summary = "".join(f"{hashlib.sha256(archive.read(n)).hexdigest()}  {n}\n" for n in files)
got = "h1:" + base64.b64encode(hashlib.sha256(summary.encode()).digest()).decode()
if got != want:
    sys.exit(f"{url}: checksum {got}, expected {want}")
for name in files:
    if not name.startswith(prefix) or ".." in name.split("/"):
        sys.exit(f"{url}: unexpected entry {name}")
    rel = name[len(prefix):]
    path = os.path.join(dest, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as out:
        out.write(archive.read(name))
    # A module zip keeps no file modes; go marks bin/ and pkg/tool/ executable when it unpacks one.
    os.chmod(path, 0o755 if rel.startswith(("bin/", "pkg/tool/")) else 0o644)
EOF
    rm -rf "$goroot"
    mv "$goroot.unpacking" "$goroot"
  fi
  ln -sf "$goroot/bin/go" /usr/local/bin/go
  hash -r
  if [[ "$(go env GOVERSION 2>/dev/null)" != "$go_want" ]]; then
    log "go: linked $goroot/bin/go as /usr/local/bin/go, but 'go' is $(command -v go); put /usr/local/bin first on PATH" >&2
    exit 1
  fi
  log "go: $(go env GOVERSION) at $(command -v go)"
fi

# --- weed ------------------------------------------------------------------------------------------
# Built here rather than on first use: a cold weed build compiles some 1700 packages, which on two
# cores can outlast a test's time limit. It runs in the background while the steps below install
# node_modules and the jars (network and a single-threaded librdkafka build leave a core free), and
# the script waits for it at the end. Same places, markers and commands as ensureGoBinary() in
# devstack/go.ts (used by devstack/seaweedfs.ts): the marker holds "<module>@<version> <toolchain>",
# and the build goes to a scratch dir renamed into place.
seaweedfs_version=v0.0.0-20261109003541-7506e5f91cd6
go_build_cached() { # <dir> <marker> <build function, given the scratch dir> [note]
  local dir="$1" digest="$2" build="$3" note="${4:-}"
  if [[ -f "$dir/.fetched" && "$(cat "$dir/.fetched")" == "$digest" ]]; then
    log "$(basename "$dir"): up to date in $dir"
    return
  fi
  log "$(basename "$dir"): building into $dir with $go_want$note"
  mkdir -p "$(dirname "$dir")"
  go_scratch="$(mktemp -d "$dir.building-XXXXXX")"
  trap 'rm -rf "$go_scratch"' EXIT
  "$build" "$go_scratch"
  chmod 755 "$go_scratch"
  printf '%s\n' "$digest" >"$go_scratch/.fetched"
  rm -rf "$dir"
  mv "$go_scratch" "$dir"
  trap - EXIT
}
build_weed() {
  # `go install …/weed@version` is refused (SeaweedFS's go.mod has replace directives, which only a
  # main module may have), so build inside the downloaded module, where that go.mod is the main one.
  local src
  src="$(go mod download -json "github.com/seaweedfs/seaweedfs@$seaweedfs_version" | python3 -c 'import json, sys; print(json.load(sys.stdin)["Dir"])')"
  (cd "$src" && go build '-ldflags=-s -w' -o "$1/weed" ./weed)
}
weed_log="$(mktemp -t fieldline-weed-build-XXXXXX.log)"
(
  export GOTOOLCHAIN="$go_want" GOFLAGS=-buildvcs=false
  cache="${FIELDLINE_CACHE:-$repo/.cache}"
  go_build_cached "$cache/seaweedfs-$seaweedfs_version" "github.com/seaweedfs/seaweedfs@$seaweedfs_version $go_want" build_weed \
    " (some 1700 packages: several minutes on two cores the first time; in the background)"
) >"$weed_log" 2>&1 &
weed_pid=$!

# --- the Debian root the install test boots (test/deploy/install-nspawn.test.ts) ---------------------
# debootstrap takes minutes on a cold machine; made here in the background, the test only unpacks it.
debian_log="$(mktemp -t fieldline-debian-root-XXXXXX.log)"
FIELDLINE_CACHE="${FIELDLINE_CACHE:-$repo/.cache}" "$repo/scripts/debian-root.sh" >"$debian_log" 2>&1 &
debian_pid=$!

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

# arm64 Node.js, sysroot and cross-built addons for test/arm64 (when the emulator is installed).
if command -v qemu-aarch64-static >/dev/null 2>&1; then scripts/arm64-prepare.sh "$node_want"; fi

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

# --- pyarrow: an independent Parquet reader for the lake's files ------------------------------
if python3 -c 'import pyarrow' 2>/dev/null; then
  log "pyarrow: installed"
else
  log "pyarrow: installing"
  python3 -m pip install --quiet --break-system-packages 'pyarrow==26.0.1' \
    || python3 -m pip install --quiet 'pyarrow==26.0.1'
fi

# --- schemathesis: the API fuzzer (test/api/fuzz.test.ts), in its own venv ----------------------
# Its dependency tree (hypothesis, werkzeug, …) is large; a venv keeps it away from the system's
# Python packages.
st_venv="${FIELDLINE_CACHE:-$repo/.cache}/schemathesis-venv"
# openapi-spec-validator checks the OpenAPI document against the specification's own schema.
if "$st_venv/bin/schemathesis" --version 2>/dev/null | grep -q '4.32.5' \
  && "$st_venv/bin/python" -c 'import openapi_spec_validator' 2>/dev/null; then
  log "schemathesis: installed"
else
  log "schemathesis: installing"
  rm -rf "$st_venv"
  python3 -m venv "$st_venv"
  "$st_venv/bin/pip" install --quiet 'schemathesis==4.32.5' 'openapi-spec-validator==0.9.0'
fi

if wait "$weed_pid"; then
  cat "$weed_log"
  rm -f "$weed_log"
else
  cat "$weed_log" >&2
  log "weed: the build failed (log above)" >&2
  exit 1
fi

if wait "$debian_pid"; then
  log "debian root: $(tail -1 "$debian_log")"
  rm -f "$debian_log"
else
  cat "$debian_log" >&2
  log "debian root: debootstrap failed (log above)" >&2
  exit 1
fi

log "done"
