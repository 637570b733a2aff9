#!/usr/bin/env bash
# A real three-host datapact federation on one Linux machine, in network namespaces.
#
# Each member (THA, MMR, AUS) gets its own network namespace with one address on a veth
# "cable" plugged into a bridge (the "switch"), which lives in a fourth namespace of its own:
#
#     dp-tha-RUN 10.77.0.1 ---+
#     dp-mmr-RUN 10.77.0.2 ---+-- br0 in dp-sw-RUN
#     dp-aus-RUN 10.77.0.3 ---+
#
# Nothing is configured in the host's own namespace (no address, no route, no bridge, no
# firewall rule), so nothing leaves the machine, host firewalls (e.g. Docker's FORWARD DROP
# with br_netfilter) cannot interfere, and parallel runs cannot clash: every namespace name
# carries a random per-run suffix and every run has its own temporary directory.
#
# The script then runs the federation end to end (init, daemons, roster mesh, releases with
# three policies, catalogues, pulls and a refusal, audits), cuts AUS's cable at the switch,
# releases and revokes on THA while AUS is away, plugs AUS back in and waits until AUS has
# caught up. Every step prints PASS or FAIL; the first FAIL ends the run.
#
# Usage:   sudo deploy/netns-federation.sh
#          sudo DATAPACT_BIN=/usr/local/bin/datapact deploy/netns-federation.sh
# Needs:   root, iproute2 with `ip netns`, jq; cargo only when DATAPACT_BIN is unset.
# Env:     DATAPACT_BIN    datapact binary to use (default: `cargo build -p datapact`, then
#                          target/debug/datapact)
#          DP_KEEP=1       keep the temporary directory (node dirs and daemon logs) on exit
#          DP_DEADLINE=S   seconds any single wait may take (default 90)
# Exit:    0 every step passed, 1 a step failed, 77 skipped (not root, no `ip netns`, no jq:
#          the automake/meson convention for "cannot run here", so CI can tell it from a failure).
set -Eeuo pipefail

readonly SKIP=77
readonly PORT=7470
readonly SUBNET_PREFIX=10.77.0
readonly DEADLINE=${DP_DEADLINE:-90}
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$SCRIPT_DIR/.." && pwd)
readonly SCRIPT_DIR REPO
readonly SAMPLES=$REPO/cli/samples

skip() { echo "SKIP  $*" >&2; exit "$SKIP"; }

# ---------------------------------------------------------------- prerequisites (exit 77)
[[ $(id -u) -eq 0 ]] || skip "must run as root (network namespaces need CAP_NET_ADMIN); try: sudo $0"
command -v ip >/dev/null || skip "iproute2 'ip' not found"
ip netns list >/dev/null 2>&1 || skip "'ip netns' is not available here (kernel or iproute2 without netns support)"
command -v jq >/dev/null || skip "jq not found (apt-get install jq); it reads the CLI's --json output"

if [[ -n ${DATAPACT_BIN:-} ]]; then
    BIN=$DATAPACT_BIN
else
    command -v cargo >/dev/null || skip "cargo not found; build datapact elsewhere and set DATAPACT_BIN"
    echo "building datapact (cargo build -p datapact)..."
    (cd "$REPO" && cargo build -q -p datapact)
    BIN=$REPO/target/debug/datapact
fi
[[ -x $BIN ]] || { echo "FAIL  datapact binary $BIN is not executable" >&2; exit 1; }
readonly STARTED=$SECONDS  # after the build: the times shown are the federation's own

# ---------------------------------------------------------------- per-run names and cleanup
RUN=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
readonly RUN
readonly NS_SW=dp-sw-$RUN
declare -A NS=([THA]=dp-tha-$RUN [MMR]=dp-mmr-$RUN [AUS]=dp-aus-$RUN)
declare -A ADDR=([THA]=$SUBNET_PREFIX.1 [MMR]=$SUBNET_PREFIX.2 [AUS]=$SUBNET_PREFIX.3)
declare -A PID=() PEER=() DIR=()
readonly MEMBERS=(THA MMR AUS)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/dp-netns-$RUN.XXXXXX")
readonly WORK

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    # Daemons first: a namespace only goes away once no process is left in it.
    for m in "${!PID[@]}"; do
        kill -TERM "${PID[$m]}" 2>/dev/null || true
    done
    for m in "${!PID[@]}"; do
        # SHUTDOWN_GRACE in the daemon is 10 s; give it a little more, then insist.
        for _ in $(seq 1 120); do kill -0 "${PID[$m]}" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "${PID[$m]}" 2>/dev/null || true
        wait "${PID[$m]}" 2>/dev/null || true
    done
    ip -n "$NS_SW" link del br0 2>/dev/null || true
    for ns in "${NS[@]}" "$NS_SW"; do
        ip netns del "$ns" 2>/dev/null || true
    done
    if [[ ${DP_KEEP:-0} == 1 ]]; then
        echo "kept $WORK (node directories and daemon logs)"
    else
        rm -rf -- "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- reporting
STEPS=0
# Each line carries the seconds since the start, so a slow step shows.
pass() { STEPS=$((STEPS + 1)); printf 'PASS %3ds  %-58s %s\n' $((SECONDS - STARTED)) "$1" "${2:-}"; }
fail() {
    printf 'FAIL %3ds  %-58s %s\n' $((SECONDS - STARTED)) "$1" "${2:-}"
    echo "--- last daemon log lines ($WORK/logs) ---"
    for m in "${MEMBERS[@]}"; do
        [[ -f $WORK/logs/$m.log ]] && tail -n 5 "$WORK/logs/$m.log" |
            jq -Rr --arg m "$m" '(fromjson? | "\($m) \(.timestamp[11:23]) \(.level) \(.fields | tostring)") // "\($m) \(.)"'
    done
    echo "RESULT: FAIL after $STEPS passed steps, $((SECONDS - STARTED)) s (run $RUN)"
    exit 1
}

dp() { local m=$1; shift; "$BIN" --dir "${DIR[$m]}" "$@"; }

# wait_for DESCRIPTION COMMAND...: polls COMMAND every 0.2 s until it succeeds or DEADLINE
# passes. Every synchronisation in this script goes through here; none is a bare sleep.
wait_for() {
    local what=$1; shift
    local until=$((SECONDS + DEADLINE))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= until)); then
            echo "      timed out after ${DEADLINE} s waiting for: $what" >&2
            return 1
        fi
        sleep 0.2
    done
}

# Predicates over the CLI's JSON output.
daemon_listening() { dp "$1" peers --json >/dev/null && dp "$1" id --json | jq -e --arg a "/ip4/${ADDR[$1]}/tcp/$PORT" '.listen | index($a)'; }
connected_to() { dp "$1" peers --json | jq -e --arg m "$2" 'any(.[]; .member == $m)'; }
not_connected_to() { ! connected_to "$1" "$2"; }
in_catalog() { dp "$1" catalog --json | jq -e --arg id "$2" 'any(.[]; .id == $id)'; }
catalog_status() { dp "$1" catalog --json | jq -e --arg id "$2" --arg s "$3" 'any(.[]; .id == $id and .status == $s)'; }
dataset_status() { dp "$1" datasets --json | jq -e --arg id "$2" --arg s "$3" 'any(.[]; .id == $id and .status == $s)'; }

# ---------------------------------------------------------------- 1. the network
echo "run $RUN: namespaces ${NS[THA]} ${NS[MMR]} ${NS[AUS]} (switch $NS_SW), work dir $WORK"
ip netns add "$NS_SW"
ip -n "$NS_SW" link set lo up
ip -n "$NS_SW" link add br0 type bridge
ip -n "$NS_SW" link set br0 up
for m in "${MEMBERS[@]}"; do
    ns=${NS[$m]}
    port=${m,,}  # the switch-side end of the cable is named after the member: tha, mmr, aus
    ip netns add "$ns"
    ip -n "$ns" link set lo up
    ip -n "$NS_SW" link add "$port" type veth peer name eth0 netns "$ns"
    ip -n "$NS_SW" link set "$port" master br0 up
    ip -n "$ns" addr add "${ADDR[$m]}/24" dev eth0
    ip -n "$ns" link set eth0 up
    # TCP gives up on a dead peer after tcp_retries2 retransmissions (15: about 15 minutes).
    # Inside these namespaces only, 3 (a few seconds) makes a short cut behave like a long
    # outage: connections die, and coming back is a real reconnection with catch-up, instead
    # of the old TCP connection quietly resuming.
    ip netns exec "$ns" sysctl -qw net.ipv4.tcp_retries2=3
done
pass "network: 3 hosts on a bridge, ${ADDR[THA]} ${ADDR[MMR]} ${ADDR[AUS]}"

# ---------------------------------------------------------------- 2. nodes and daemons
mkdir -p "$WORK/logs"
for m in "${MEMBERS[@]}"; do
    DIR[$m]=$WORK/${m,,}
    out=$(dp "$m" init --member "$m" --listen "/ip4/${ADDR[$m]}/tcp/$PORT" --json) ||
        fail "init $m"
    PEER[$m]=$(jq -er .peer_id <<<"$out") || fail "init $m" "no peer_id in: $out"
    # Run the nodes from the example configs (the same member and address), so those files
    # are checked by a real run; deny_unknown_fields makes a stale field fail here.
    install -m 0600 "$SCRIPT_DIR/config/$m.toml" "${DIR[$m]}/config.toml"
    dp "$m" id --json | jq -e --arg m "$m" --arg a "/ip4/${ADDR[$m]}/tcp/$PORT" \
        '.member == $m and .listen == [$a]' >/dev/null || fail "deploy/config/$m.toml loads"
done
pass "init THA MMR AUS, configs from deploy/config/" "THA=${PEER[THA]:0:16}..."
# The documented example must load too (node/src/home.rs points users to it).
dp_example=$WORK/example
"$BIN" --dir "$dp_example" init --member ZZZ >/dev/null || fail "init scratch node"
install -m 0600 "$SCRIPT_DIR/config.example.toml" "$dp_example/config.toml"
"$BIN" --dir "$dp_example" id --json | jq -e '.member == "THA"' >/dev/null ||
    fail "deploy/config.example.toml loads"
pass "deploy/config.example.toml loads"

for m in "${MEMBERS[@]}"; do
    # `ip netns exec` execs the daemon, so $! is the daemon's own pid.
    RUST_LOG=${RUST_LOG:-info} ip netns exec "${NS[$m]}" \
        "$BIN" --dir "${DIR[$m]}" daemon --log-format json 2>"$WORK/logs/$m.log" &
    PID[$m]=$!
done
for m in "${MEMBERS[@]}"; do
    wait_for "$m listening" daemon_listening "$m" ||
        fail "daemon $m listening on ${ADDR[$m]}:$PORT" "see $WORK/logs/$m.log"
done
pass "daemons up, each inside its namespace" "pids ${PID[THA]} ${PID[MMR]} ${PID[AUS]}"

# ---------------------------------------------------------------- 3. the roster mesh
for m in "${MEMBERS[@]}"; do
    for o in "${MEMBERS[@]}"; do
        [[ $m == "$o" ]] && continue
        dp "$m" members add "$o" "${PEER[$o]}" --addr "/ip4/${ADDR[$o]}/tcp/$PORT" >/dev/null ||
            fail "members add $o on $m"
    done
done
for m in "${MEMBERS[@]}"; do
    for o in "${MEMBERS[@]}"; do
        [[ $m == "$o" ]] && continue
        wait_for "$m sees $o" connected_to "$m" "$o" || fail "mesh: $m connected to $o"
    done
done
pass "roster mesh: every node connected to the other two"

# ---------------------------------------------------------------- 4. releases on THA
release() {  # release MEMBER FILE NAME POLICY TITLE [extra args...] -> prints the dataset id
    local m=$1 file=$2 name=$3 policy=$4 title=$5; shift 5
    dp "$m" release "$SAMPLES/$file" --name "$name" --policy "$policy" --title "$title" --json "$@" |
        jq -er .id
}
STOCK=$(release THA migrant_stock_2015_2017.csv migrant-stock public \
    "International migrant stock 2015-2017" --licence CC-BY-4.0) || fail "release public"
MGI=$(release THA mgi_2016.csv mgi members \
    "Migration Governance Index 2016") || fail "release members"
TIP=$(release THA trafficking_victims_tha_2017.csv trafficking-victims only:MMR \
    "Identified victims of trafficking, Thailand 2017" \
    --purpose "Victim return assistance") || fail "release only:MMR"
pass "THA releases: public, members, only:MMR" "$STOCK $MGI $TIP"

# ---------------------------------------------------------------- 5. catalogues
for id in "$STOCK" "$MGI" "$TIP"; do
    wait_for "MMR sees $id" in_catalog MMR "$id" || fail "MMR catalogue shows $id"
done
pass "MMR catalogue: all three"
for id in "$STOCK" "$MGI"; do
    wait_for "AUS sees $id" in_catalog AUS "$id" || fail "AUS catalogue shows $id"
done
# By now THA has delivered to both; the only:MMR release must still be unknown to AUS.
in_catalog AUS "$TIP" >/dev/null 2>&1 && fail "AUS catalogue hides $TIP" "AUS can see it"
pass "AUS catalogue: public and members, not only:MMR"

# ---------------------------------------------------------------- 6. pulls
dp MMR pull "$TIP" --json >/dev/null || fail "MMR pulls $TIP"
dp MMR pull "$MGI" --json >/dev/null || fail "MMR pulls $MGI"
pass "MMR pulls $TIP and $MGI"
dp AUS pull "$STOCK" --json >/dev/null || fail "AUS pulls $STOCK"
dp AUS pull "$MGI" --json >/dev/null || fail "AUS pulls $MGI"
pass "AUS pulls $STOCK and $MGI"
set +e
err=$(dp AUS pull "$TIP" 2>&1 >/dev/null)
rc=$?
set -e
[[ $rc -eq 1 && $err == *"not found"* ]] ||
    fail "AUS pull of $TIP refused as not found" "exit $rc: $err"
pass "AUS pull of $TIP refused" "exit 1: $err"

# ---------------------------------------------------------------- 7. audits
audit_all() {
    local m report
    for m in "${MEMBERS[@]}"; do
        report=$(dp "$m" audit --json) || fail "audit $m ($1)" "$report"
        jq -e .ok <<<"$report" >/dev/null || fail "audit $m ($1)" "$report"
    done
    pass "audit THA MMR AUS ($1): exit 0, ok"
}
audit_all "after pulls"

# ---------------------------------------------------------------- 8. AUS cut off
# Pull AUS's cable out at the switch; its daemon keeps running and does not know.
ip -n "$NS_SW" link set aus down
pass "AUS cut off (its switch port is down, its daemon runs on)"

STOCK2=$(release THA migrant_stock_2015_2017.csv migrant-stock public \
    "International migrant stock 2015-2017 (revised)" --licence CC-BY-4.0) ||
    fail "release while AUS is away"
MGI2=$(release THA mgi_2016.csv mgi members "Migration Governance Index 2016, second edition") ||
    fail "release while AUS is away"
dp THA revoke "$MGI" --reason "superseded by the second edition" >/dev/null ||
    fail "revoke $MGI while AUS is away"
pass "THA releases $STOCK2 and $MGI2, revokes $MGI"
# THA's deliveries to AUS are now stuck in a TCP connection to nowhere; once TCP gives up
# (tcp_retries2 above) THA drops the connection. Waiting for that makes the come-back below a
# real reconnection, not a resumed connection.
wait_for "THA loses AUS" not_connected_to THA AUS || fail "THA notices AUS is gone"
pass "THA has dropped its connection to AUS"

wait_for "MMR gets it" catalog_status MMR "$MGI" revoked || fail "MMR (online) sees $MGI revoked"
wait_for "MMR gets it" in_catalog MMR "$MGI2" || fail "MMR (online) sees $MGI2"
wait_for "MMR gets it" in_catalog MMR "$STOCK2" || fail "MMR (online) sees $STOCK2"
pass "MMR (online) has $MGI2, $STOCK2 and the revocation"
# The cut is real: AUS, still running, has heard nothing.
in_catalog AUS "$MGI2" >/dev/null 2>&1 && fail "AUS hears nothing while cut off" "it has $MGI2"
catalog_status AUS "$MGI" revoked >/dev/null 2>&1 &&
    fail "AUS hears nothing while cut off" "it has the revocation"
pass "AUS (cut off) has heard nothing"

# ---------------------------------------------------------------- 9. back online: catch-up
ip -n "$NS_SW" link set aus up
back=$SECONDS
wait_for "AUS reconnects" connected_to AUS THA || fail "AUS reconnects to THA"
wait_for "AUS catches up" in_catalog AUS "$MGI2" || fail "AUS catches up: $MGI2"
wait_for "AUS catches up" in_catalog AUS "$STOCK2" || fail "AUS catches up: $STOCK2"
wait_for "AUS catches up" catalog_status AUS "$MGI" revoked || fail "AUS catches up: $MGI revoked"
wait_for "AUS catches up" dataset_status AUS "$MGI" revoked || fail "AUS marks its copy of $MGI revoked"
# How the statements reached AUS, from its log ("catch-up", "direct" or "gossip").
paths=$(jq -r --arg a "$MGI2" --arg b "$STOCK2" \
    'select(.fields.message == "accepted" and (.fields.dataset == $a or .fields.dataset == $b))
     | "\(.fields.dataset) via \(.fields.from)"' "$WORK/logs/AUS.log" 2>/dev/null | paste -sd, -)
pass "AUS back online and caught up in $((SECONDS - back)) s" "${paths:-}"
in_catalog AUS "$TIP" >/dev/null 2>&1 && fail "AUS still cannot see $TIP after catch-up"
pass "catch-up kept $TIP hidden from AUS"

audit_all "after catch-up"

# ---------------------------------------------------------------- 10. clean shutdown
for m in "${MEMBERS[@]}"; do kill -TERM "${PID[$m]}"; done
for m in "${MEMBERS[@]}"; do
    rc=0
    wait "${PID[$m]}" || rc=$?
    unset "PID[$m]"
    [[ $rc -eq 0 ]] || fail "daemon $m stops cleanly on SIGTERM" "exit $rc"
    [[ ! -e ${DIR[$m]}/control.sock ]] || fail "daemon $m removed its control socket"
done
pass "daemons stop cleanly on SIGTERM"

echo "RESULT: PASS, $STEPS steps in $((SECONDS - STARTED)) s (run $RUN)"
