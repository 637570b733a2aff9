#!/bin/sh
# Container entrypoint: `datapact init` on the first start of a fresh volume, then exec
# `datapact "$@"` (the daemon by default), so the daemon is PID 1 and receives SIGTERM.
# It never touches an existing identity: init runs only when there is none (and would refuse
# to overwrite one anyway).
#   DATAPACT_MEMBER   member code for the first start (required then, ignored afterwards)
#   DATAPACT_LISTEN   optional, space-separated listen multiaddrs for the first start
#                     (default: datapact's, /ip4/0.0.0.0/tcp/7470)
set -eu

dir=${DATAPACT_DIR:?DATAPACT_DIR must be set}

# Function arguments are its own, so this leaves the daemon's "$@" alone.
init_node() {
    set -- init --member "$DATAPACT_MEMBER"
    set -f  # split DATAPACT_LISTEN on spaces, never glob it
    for addr in ${DATAPACT_LISTEN:-}; do
        set -- "$@" --listen "$addr"
    done
    set +f
    datapact "$@"
}

# Only the daemon needs an identity up front: `docker run IMAGE verify ...` and the like must
# not create one as a side effect.
if [ "${1:-}" = daemon ] && [ ! -e "$dir/identity.key" ]; then
    if [ -z "${DATAPACT_MEMBER:-}" ]; then
        echo "error: $dir has no node identity; set DATAPACT_MEMBER (e.g. THA) for the first start" >&2
        exit 2
    fi
    init_node
fi

exec datapact "$@"
