#!/usr/bin/env bash
# Installs datapact as a systemd service on this host:
#   /usr/local/bin/datapact                    the binary (cargo build --release --locked)
#   /etc/systemd/system/datapact.service       the unit (an existing, different one is backed up)
#   user and group `datapact`                  a system account, no login shell
#   /var/lib/datapact{,/incoming,/outgoing}    the node directory, 0700 datapact
# It never creates, replaces or reads an identity: `datapact init` is left to the operator,
# who must pick the member code (the script prints the command).
#
# Run it as yourself (it builds with your cargo and uses sudo to install) or as root.
#   DATAPACT_BIN=PATH   install this binary instead of building one
#   DESTDIR=DIR         stage the files under DIR (packaging, or to try this script out):
#                       no account, no /var/lib, no systemctl
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
DESTDIR=${DESTDIR:-}
UNIT=$DESTDIR/etc/systemd/system/datapact.service
STATE=/var/lib/datapact

if [[ $(id -u) -eq 0 ]]; then SUDO=(); else SUDO=(sudo); fi

# 1. The binary.
if [[ -n ${DATAPACT_BIN:-} ]]; then
    bin=$DATAPACT_BIN
else
    command -v cargo >/dev/null || {
        echo "error: cargo not found (under sudo, root's PATH often lacks it: run this script as yourself)" >&2
        exit 1
    }
    (cd "$REPO" && cargo build --release -p datapact --locked)
    bin=$REPO/target/release/datapact
fi
"$bin" --version >/dev/null  # refuse a binary that does not even run here
"${SUDO[@]}" install -D -m 0755 "$bin" "$DESTDIR/usr/local/bin/datapact"
echo "installed $DESTDIR/usr/local/bin/datapact ($("$bin" --version))"

# 2. The unit: an operator's edits are never lost silently.
if [[ -e $UNIT ]] && ! cmp -s "$SCRIPT_DIR/datapact.service" "$UNIT"; then
    backup=$UNIT.bak.$(date +%Y%m%d%H%M%S)
    "${SUDO[@]}" cp -p "$UNIT" "$backup"
    echo "note: $UNIT differed from deploy/datapact.service; the old one is kept as $backup"
fi
"${SUDO[@]}" install -D -m 0644 "$SCRIPT_DIR/datapact.service" "$UNIT"
echo "installed $UNIT"

if [[ -n $DESTDIR ]]; then
    echo "staged under $DESTDIR; on the target host create the datapact user and run init (see deploy/README.md)"
    exit 0
fi

# 3. The account and the node directory. incoming/ holds files to release and outgoing/ the
# files `pull --out` and `export --out` write: the sandboxed daemon can reach nothing else.
if ! id datapact >/dev/null 2>&1; then
    "${SUDO[@]}" useradd --system --user-group --home-dir "$STATE" --no-create-home \
        --shell /usr/sbin/nologin datapact
    echo "created system user datapact"
fi
"${SUDO[@]}" install -d -o datapact -g datapact -m 0700 "$STATE" "$STATE/incoming" "$STATE/outgoing"

if [[ -d /run/systemd/system ]]; then
    "${SUDO[@]}" systemctl daemon-reload
fi

# 4. What the operator does next.
as_node=(sudo -u datapact env DATAPACT_DIR="$STATE" datapact)
if "${SUDO[@]}" test -e "$STATE/identity.key"; then
    echo "existing identity in $STATE kept:"
    "${SUDO[@]}" env DATAPACT_DIR="$STATE" /usr/local/bin/datapact id || true
    echo "restart the service to run the new binary:  sudo systemctl restart datapact"
else
    cat <<EOF

Next steps:
  1. create the node identity (pick your member code and the address peers will reach):
       ${as_node[*]} init --member THA --listen /ip4/0.0.0.0/tcp/7470
  2. start it now and at boot:
       sudo systemctl enable --now datapact
  3. give your PeerId (from step 1, or \`${as_node[*]} id\`) and address to the other members,
     and add theirs:
       ${as_node[*]} members add MMR <their PeerId> --addr /ip4/<their address>/tcp/7470
Files to release go in $STATE/incoming/ (readable by datapact); see deploy/README.md.
EOF
fi
