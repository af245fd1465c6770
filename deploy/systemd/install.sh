#!/usr/bin/env bash
# Installs Fieldline from this checkout (built: npm ci && npm run build) and enables its units:
#   sudo deploy/systemd/install.sh gateway     an edge gateway without balena
#   sudo deploy/systemd/install.sh cloud       a cloud host: fieldline-cloud.service (all roles in
#                                              one process, embedded database) is enabled; the
#                                              per-role units and fieldline-cloud.target are
#                                              installed beside it as the alternative
# Run it again to upgrade: code and units are replaced, /etc/fieldline and the state are kept.
#
# DESTDIR=/some/root stages everything under that root instead (packaging); the user is then not
# created and ownership is left to the package, which must create the `fieldline` user itself.
# The units run the Node.js found on the PATH here, which must be 24 or later: the native modules
# in node_modules were built for it. scripts/ci-install.sh shows how to get one from the npm registry.
set -euo pipefail

role=${1:-}
case "$role" in gateway | cloud) ;; *)
  echo "usage: $0 gateway|cloud" >&2
  exit 2
  ;;
esac
src=$(cd "$(dirname "$0")/../.." && pwd)
root=${DESTDIR:-}
prefix=/opt/fieldline
say() { printf 'install.sh: %s\n' "$*"; }
die() {
  printf 'install.sh: %s\n' "$*" >&2
  exit 1
}

[ -f "$src/dist/gateway/src/cli/main.js" ] || die "no build in $src/dist; run: npm ci && npm run build"
[ -d "$src/node_modules" ] || die "no node_modules in $src; run: npm ci"

node_bin=$(command -v node || true)
[ -n "$node_bin" ] || die "Node.js is not installed; Fieldline needs Node.js 24 or later on the PATH"
node_bin=$(readlink -f "$node_bin")
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 24 ] || die "$node_bin is Node.js $("$node_bin" -v); Fieldline needs 24 or later (its native modules are built for it)"
[ -z "$root" ] && [ "$(id -u)" -ne 0 ] && die "run as root (or set DESTDIR to stage into a directory)"

if [ "$role" = gateway ]; then
  units=(fieldline-gateway.service)
  enable=(fieldline-gateway.service)
  state=/var/lib/fieldline
  sample=gateway/gateway.sample.yaml
else
  units=(fieldline-cloud.service fieldline-cloud-sink.service fieldline-cloud-lake.service
    fieldline-cloud-alerts.service fieldline-cloud-api.service fieldline-cloud.target)
  enable=(fieldline-cloud.service)
  state=/var/lib/fieldline-cloud
  sample=cloud-sink/cloud.sample.yaml
fi

# --- shared libraries the native modules link (node-rdkafka: SASL, zstd, OpenSSL) -------------------
if [ -z "$root" ] && command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for pkg in libsasl2-2 libzstd1 libssl3; do
    [ "$(dpkg-query -W -f='${db:Status-Status}' "$pkg" 2>/dev/null || true)" = installed ] || missing+=("$pkg")
  done
  if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}" ||
      die "could not install ${missing[*]} (run apt-get update first?)"
  fi
fi

# --- the service user -------------------------------------------------------------------------------
if [ -z "$root" ]; then
  if ! id fieldline >/dev/null 2>&1; then
    useradd --system --user-group --home-dir "$state" --no-create-home --shell /usr/sbin/nologin fieldline
    say "created system user fieldline"
  fi
  # Modbus RTU opens /dev/tty*, which belong to group dialout.
  if [ "$role" = gateway ]; then
    getent group dialout >/dev/null || groupadd --system dialout
    usermod -a -G dialout fieldline
  fi
fi

# --- code -------------------------------------------------------------------------------------------
# A fresh tree beside the old one, then swapped in, so a failed copy never leaves half a release.
install -d -m 0755 "$root$prefix"
new="$root$prefix/.new"
rm -rf "$new"
install -d -m 0755 "$new"
cp -a "$src/package.json" "$src/dist" "$src/proto" "$new/"
[ -d "$src/gateway/templates" ] && install -d "$new/gateway" && cp -a "$src/gateway/templates" "$new/gateway/"
# Production dependencies only: the top-level packages package-lock.json does not mark dev (their
# nested node_modules come along), without the native modules' build leftovers (librdkafka's
# sources and objects are 470 MB; the addon loads build/deps/librdkafka.so.1).
mapfile -t pkgs < <("$node_bin" -e '
  const lock = require(process.argv[1]);
  for (const [path, entry] of Object.entries(lock.packages ?? {})) {
    const name = path.slice("node_modules/".length);
    if (!path.startsWith("node_modules/") || name.includes("/node_modules/") || entry.dev || entry.link) continue;
    console.log(name);
  }' "$src/package-lock.json")
present=()
for pkg in "${pkgs[@]}"; do
  # An optional dependency for another platform is not installed.
  [ -e "$src/node_modules/$pkg" ] && present+=("$pkg")
done
install -d "$new/node_modules"
# GNU tar exits 1 when a file's ctime moves while it reads (a shared tree being used); the copy is whole.
{ tar -C "$src/node_modules/" --warning=no-file-changed --anchored --exclude=node-rdkafka/deps --no-anchored \
  --exclude=build/Release/obj.target --exclude=build/Release/.deps -cf - "${present[@]}" || [ $? -eq 1 ]; } |
  tar -C "$new/node_modules" -xf -
chmod -R u=rwX,go=rX "$new"
for part in package.json dist proto gateway node_modules; do
  [ -e "$new/$part" ] || continue
  rm -rf "$root$prefix/$part.old"
  [ -e "$root$prefix/$part" ] && mv "$root$prefix/$part" "$root$prefix/$part.old"
  mv "$new/$part" "$root$prefix/$part"
  rm -rf "$root$prefix/$part.old"
done
rmdir "$new"

# --- units ------------------------------------------------------------------------------------------
install -d -m 0755 "$root/etc/systemd/system"
for unit in "${units[@]}"; do
  sed "s#^ExecStart=/usr/bin/node #ExecStart=$node_bin #" "$src/deploy/systemd/$unit" >"$root/etc/systemd/system/$unit"
  chmod 0644 "$root/etc/systemd/system/$unit"
done

# --- config and state ---------------------------------------------------------------------------------
# /etc/fieldline holds secrets (admin token, database URL): readable by the service, not by others.
install -d -m 0750 "$root/etc/fieldline"
if [ -f "$root/etc/fieldline/$role.yaml" ]; then
  say "kept the existing /etc/fieldline/$role.yaml"
else
  install -m 0640 "$src/$sample" "$root/etc/fieldline/$role.yaml"
fi
install -d -m 0700 "$root$state"
if [ -z "$root" ]; then
  chown root:fieldline /etc/fieldline "/etc/fieldline/$role.yaml"
  chown fieldline:fieldline "$state"
fi

# --- enable -------------------------------------------------------------------------------------------
if [ -n "$root" ]; then
  if command -v systemctl >/dev/null 2>&1; then
    systemctl --root="$root" enable "${enable[@]}" >/dev/null 2>&1 || say "could not enable ${enable[*]} under $root"
  fi
  say "staged fieldline-$role under $root"
elif [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable "${enable[@]}"
  systemctl restart "${enable[@]}"
  say "fieldline-$role is running; status: systemctl status ${enable[*]}; logs: journalctl -u ${enable[0]%.service} -f"
else
  # A chroot or a system being prepared offline: systemctl enables without a running manager.
  systemctl enable "${enable[@]}"
  say "enabled ${enable[*]}; systemd is not running here, so nothing was started"
fi
