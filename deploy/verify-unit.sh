#!/usr/bin/env bash
# Checks deploy/datapact.service with `systemd-analyze verify`. verify insists that ExecStart's
# binary exists, so it runs against a scratch root holding the binary, the unit and systemd's
# own unit files, and changes nothing on the host. Exit 77: systemd-analyze is not installed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bin="${DATAPACT_BIN:-$here/../target/debug/datapact}"
command -v systemd-analyze >/dev/null 2>&1 || { echo "skipped: systemd-analyze not installed"; exit 77; }
[ -x "$bin" ] || { echo "no datapact binary at $bin (build it or set DATAPACT_BIN)"; exit 1; }
root="$(mktemp -d)"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root/usr/local/bin" "$root/etc/systemd/system" "$root/usr/lib/systemd"
cp "$bin" "$root/usr/local/bin/datapact"
cp "$here/datapact.service" "$root/etc/systemd/system/datapact.service"
for d in /usr/lib/systemd/system /lib/systemd/system; do
  [ -d "$d" ] && mkdir -p "$root$d" && cp -a "$d/." "$root$d/"
done
systemd-analyze verify --root="$root" /etc/systemd/system/datapact.service
echo "ok: systemd-analyze verify deploy/datapact.service"
