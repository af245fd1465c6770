#!/usr/bin/env bash
# Installs Fieldline from this checkout into /opt/fieldline and enables a unit:
#   sudo deploy/systemd/install.sh gateway     (an edge gateway without balena)
#   sudo deploy/systemd/install.sh cloud       (a cloud host)
# Set DESTDIR to stage into another root (the test suite does, and checks the result).
set -euo pipefail
role=${1:-}
case "$role" in gateway|cloud) ;; *) echo "usage: $0 gateway|cloud" >&2; exit 2 ;; esac
src=$(cd "$(dirname "$0")/../.." && pwd)
root=${DESTDIR:-}

[ -f "$src/dist/gateway/src/cli/main.js" ] || { echo "build first: npm ci && npm run build" >&2; exit 1; }

# The units run the Node.js found here, which must be 24 or later (the node_modules were built for it).
node_bin=$(command -v node || true)
[ -n "$node_bin" ] || { echo "Node.js 24 is not installed (scripts/ci-install.sh installs it)" >&2; exit 1; }
node_major=$("$node_bin" -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 24 ] || { echo "$node_bin is Node.js $("$node_bin" -v); Fieldline needs 24 or later" >&2; exit 1; }

install -d "$root/opt/fieldline" "$root/etc/fieldline" "$root/etc/systemd/system"
cp -a "$src/package.json" "$src/dist" "$src/node_modules" "$src/proto" "$root/opt/fieldline/"
sed "s#^ExecStart=/usr/bin/node #ExecStart=$node_bin #" "$src/deploy/systemd/fieldline-$role.service" >"$root/etc/systemd/system/fieldline-$role.service"
chmod 0644 "$root/etc/systemd/system/fieldline-$role.service"
sample="$src/$([ "$role" = gateway ] && echo gateway/gateway.sample.yaml || echo cloud-sink/cloud.sample.yaml)"
[ -f "$root/etc/fieldline/$role.yaml" ] || install -m 0640 "$sample" "$root/etc/fieldline/$role.yaml"

if [ -z "$root" ]; then
  id fieldline >/dev/null 2>&1 || useradd --system --home /var/lib/fieldline --shell /usr/sbin/nologin fieldline
  systemctl daemon-reload
  systemctl enable --now "fieldline-$role.service"
  echo "fieldline-$role is running; logs: journalctl -u fieldline-$role -f"
else
  echo "staged fieldline-$role under $root"
fi
