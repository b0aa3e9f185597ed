#!/usr/bin/env bash
# mDNS discovery (src/disco) between real processes on private networks made
# of network namespaces, so the host's own network is never touched:
#
#   namespace BR:  bridge br0 with ports p1 p2 p3
#   namespace 1:   eth0 10.213.1.1/24  probe A1 (store A)
#   namespace 2:   eth0 10.213.1.2/24  probe A2 (store A)
#   namespace 3:   eth0 10.213.1.3/24  probe A3 (store A) + decoy B1 (store B)
#   namespace SOLO: veth v0 10.213.9.1/24 (peer v1 in SOLO too): one host,
#                  several responders
#   namespace LO:  only lo (no MULTICAST flag, as by default)
#   namespace MOVE: veth v0 10.213.8.1/24, renumbered to 10.213.7.1/24
#
# Checks
# - A1, A2, A3 each find the two others (--expect 2) with the right address
#   and port; the decoy of store B, which publishes on the same network and
#   even in the same namespace as A3, is never reported to them (and they
#   are never reported to it); the A probes saw it and ignored it for its
#   store (debug log "peer_ignored" ... "other store").
# - Two responders in one namespace (SOLO, same address) find each other and
#   do not collide: each publishes its own host name and A record without
#   the reverse PTR (DESIGN.md §8).
# - Two probes with the same store and node in SOLO: one renames itself
#   (logged "name_collision") and a third node of that store still finds
#   the node id.
# - Renumbering (MOVE): after R1 and R2 found each other, v0 gets a new
#   address and loses the old one; each re-publishes its A record (disco
#   re-reads its addresses every 3 s) and reports the other again at the
#   new address, once.
# - Two responders on a loopback-only host (LO) find each other when they
#   publish 127.0.0.1 (avahi 0.8 uses lo even without MULTICAST), without
#   colliding; without an address to publish, disco refuses to start with
#   a clear message instead of running unreachable.
#
# Every probe runs under `ip netns exec` (which execs it, so $! is the
# probe) and is stopped by its PID; the namespaces go at exit. Without root,
# `ip`, or namespace/veth/bridge support it prints "SKIP: ..." and
# exits 0 (CTest has no skip status for this test).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PROBE=$KASSA_BIN/disco_probe
[ -x "$PROBE" ] || fail "no disco_probe at $PROBE (build the tests/progs helpers)"

. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
netns_require

make_tmpdir
PFX=kdisco$$
NS_BR=$PFX-br
NS_SOLO=$PFX-solo
NS_LO=$PFX-lo

# ---- the networks ----

netns_bridge "$NS_BR"
for i in 1 2 3; do
    netns_on_bridge "$NS_BR" "$PFX-$i" "$i" "10.213.1.$i/24"
done
netns_single_host "$NS_SOLO" 10.213.9.1/24
netns_new "$NS_LO"
NS_MOVE=$PFX-move
netns_single_host "$NS_MOVE" 10.213.8.1/24

# ---- the probes ----

# probe NAME NS ARGS...: starts disco_probe in NS; stdout and stderr go to
# $TEST_TMP/NAME.out / .err; its PID is in PID_NAME.
probe()
{
    local name=$1 ns=$2
    shift 2
    ip netns exec "$ns" "$PROBE" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" &
    netns_track $!
    printf -v "PID_$name" '%s' "$!"
}

# finished NAME: waits for the probe and records its exit status in RC_NAME.
# A reaped PID leaves PIDS at once: it may be reused by another process,
# which the cleanup must never signal.
finished()
{
    local name=$1 pidvar="PID_$1" rc=0
    wait "${!pidvar}" || rc=$?
    printf -v "RC_$name" '%s' "$rc"
    netns_untrack "${!pidvar}"
}

# Timeouts: discovery takes 1-2 s (avahi probes a name 3 times 250 ms apart,
# then announces); 8 s leaves room for a loaded machine. The linger keeps a
# probe published while its peers finish resolving it.
COMMON=(--timeout-ms 8000 --linger-ms 1500 --log-level debug)
START_MS=$(date +%s%3N)
probe A1 "$PFX-1" --store A --node A1 --port 7001 --expect 2 "${COMMON[@]}"
probe A2 "$PFX-2" --store A --node A2 --port 7002 --expect 2 "${COMMON[@]}"
probe A3 "$PFX-3" --store A --node A3 --port 7003 --expect 2 "${COMMON[@]}"
# The decoy waits for more store-B peers than can exist, so it stays on the
# network (even if a filter bug made it "find" store-A nodes) until SIGTERM.
probe B1 "$PFX-3" --store B --node B1 --port 7004 --expect 64 --timeout-ms 30000 --log-level debug
probe S1 "$NS_SOLO" --store S --node S1 --port 7101 --expect 1 "${COMMON[@]}"
probe S2 "$NS_SOLO" --store S --node S2 --port 7102 --expect 1 "${COMMON[@]}"
probe D1 "$NS_SOLO" --store D --node N1 --port 7201 --expect 1 "${COMMON[@]}"
probe D2 "$NS_SOLO" --store D --node N1 --port 7202 --expect 1 "${COMMON[@]}"
probe D3 "$NS_SOLO" --store D --node N2 --port 7203 --expect 1 "${COMMON[@]}"
probe L1 "$NS_LO" --store L --node L1 --port 7301 --addr 127.0.0.1 --expect 1 "${COMMON[@]}"
probe L2 "$NS_LO" --store L --node L2 --port 7302 --addr 127.0.0.1 --expect 1 "${COMMON[@]}"
probe L3 "$NS_LO" --store L --node L3 --port 7303 --expect 1 --timeout-ms 2000
MOVE=(--expect 1 --expect-reports 2 --timeout-ms 12000 --linger-ms 1500 --log-level debug)
probe R1 "$NS_MOVE" --store R --node R1 --port 7401 "${MOVE[@]}"
probe R2 "$NS_MOVE" --store R --node R2 --port 7402 "${MOVE[@]}"

# Renumber MOVE once R1 and R2 have found each other at the first address.
# The new address is in another subnet: deleting a primary address deletes
# the secondaries of its subnet with it.
for ((i = 0; i < 160; i++)); do
    [ -s "$TEST_TMP/R1.out" ] && [ -s "$TEST_TMP/R2.out" ] && break
    sleep 0.05
done
ip -n "$NS_MOVE" addr add 10.213.7.1/24 dev v0
ip -n "$NS_MOVE" addr del 10.213.8.1/24 dev v0
MOVED_MS=$(date +%s%3N)

for p in R1 R2; do
    finished "$p"
done
note "renumbered peers re-found $(($(date +%s%3N) - MOVED_MS - 1500)) ms after the change (+1500 ms linger)"
for p in A1 A2 A3 S1 S2 D1 D2 D3 L1 L2 L3; do
    finished "$p"
done
# (Already gone if it wrongly found someone: the checks below say so.)
kill -TERM "$PID_B1" 2>/dev/null || true
finished B1
note "all probes done after $(($(date +%s%3N) - START_MS)) ms (including ${COMMON[3]} ms linger)"

out() { cat "$TEST_TMP/$1.out"; }
err() { cat "$TEST_TMP/$1.err"; }

# Timing lines, for the record.
for p in A1 A2 A3 S1 S2 D1 D2 D3 L1 L2; do
    t=$(grep -o 'found [0-9]* node(s) after [0-9]* ms' "$TEST_TMP/$p.err" || true)
    note "$p: ${t:-no timing line}"
done

check_clean()
{
    local p
    for p in "$@"; do
        _lib_check_sanitizers "$TEST_TMP/$p.err" "disco_probe $p"
        expect_no_contains "$p stderr has no errors" '"level":"error"' "$(err "$p")"
        expect_no_contains "$p leaves no loop events behind" 'event_leftovers' "$(err "$p")"
    done
}

three_namespaces()
{
    local p q
    for p in A1 A2 A3; do
        local rc="RC_$p"
        expect_eq "$p exit status (stderr: $(tail -n3 "$TEST_TMP/$p.err"))" 0 "${!rc}"
        for q in 1 2 3; do
            [ "$p" != "A$q" ] || continue
            expect_contains "$p finds A$q" "found A$q 10.213.1.$q 700$q" "$(out "$p")"
        done
        expect_no_contains "$p never reports the store-B decoy" "found B1" "$(out "$p")"
        expect_no_contains "$p does not report itself" "found $p " "$(out "$p")"
        expect_eq "$p prints only found lines" "" \
            "$(grep -vE '^found A[123] 10\.213\.1\.[123] 700[123]$' "$TEST_TMP/$p.out" || true)"
        expect_no_contains "$p: no name collision" name_collision "$(err "$p")"
    done
    # Each peer reported once: identical repeats (re-announcements) are not.
    for p in A1 A2 A3; do
        expect_eq "$p: lines reported" 2 "$(grep -c . "$TEST_TMP/$p.out")"
    done
    # The decoy was on the wire and was filtered, not just unseen.
    expect_match "store-A probes saw and ignored the decoy" '"peer_ignored".*"reason":"other store"' \
        "$(cat "$TEST_TMP/A1.err" "$TEST_TMP/A2.err" "$TEST_TMP/A3.err")"
    expect_eq "decoy: stopped by SIGTERM, nothing found (status 1)" 1 "$RC_B1"
    expect_eq "decoy reports no store-A node" "" "$(out B1)"
    check_clean A1 A2 A3 B1
}

one_namespace()
{
    expect_eq "S1 exit status" 0 "$RC_S1"
    expect_eq "S2 exit status" 0 "$RC_S2"
    expect_contains "S1 finds S2 on the shared address" "found S2 10.213.9.1 7102" "$(out S1)"
    expect_contains "S2 finds S1 on the shared address" "found S1 10.213.9.1 7101" "$(out S2)"
    # Same address, two responders: without NO_REVERSE both would claim the
    # reverse PTR and rename each other.
    expect_no_contains "S1: no name collision" name_collision "$(err S1)"
    expect_no_contains "S2: no name collision" name_collision "$(err S2)"
    check_clean S1 S2
}

name_collision()
{
    expect_eq "D1 exit status" 0 "$RC_D1"
    expect_eq "D2 exit status" 0 "$RC_D2"
    expect_eq "D3 exit status" 0 "$RC_D3"
    expect_contains "D1 (node N1) finds N2" "found N2 10.213.9.1 7203" "$(out D1)"
    expect_contains "D2 (node N1) finds N2" "found N2 10.213.9.1 7203" "$(out D2)"
    expect_match "D3 finds node N1" '^found N1 10\.213\.9\.1 720[12]$' "$(out D3)"
    expect_no_contains "D1 does not report its twin" "found N1" "$(out D1)"
    expect_no_contains "D2 does not report its twin" "found N1" "$(out D2)"
    expect_match "one of the twins renamed itself" '"event":"name_collision".*"service":"kassa-D-N1 #2"' \
        "$(cat "$TEST_TMP/D1.err" "$TEST_TMP/D2.err")"
    check_clean D1 D2 D3
}

loopback_only()
{
    expect_eq "L1 exit status" 0 "$RC_L1"
    expect_eq "L2 exit status" 0 "$RC_L2"
    expect_eq "L1 finds only L2 on 127.0.0.1" "found L2 127.0.0.1 7302" "$(out L1)"
    expect_eq "L2 finds only L1 on 127.0.0.1" "found L1 127.0.0.1 7301" "$(out L2)"
    expect_no_contains "L1: no name collision" name_collision "$(err L1)"
    expect_no_contains "L2: no name collision" name_collision "$(err L2)"
    check_clean L1 L2
    expect_eq "L3 exit status (start refused)" 3 "$RC_L3"
    expect_contains "L3 says why" "no up, multicast, non-loopback IPv4 interface" "$(err L3)"
    expect_eq "L3 prints nothing on stdout" "" "$(out L3)"
    _lib_check_sanitizers "$TEST_TMP/L3.err" "disco_probe L3"
}

renumbered()
{
    expect_eq "R1 exit status" 0 "$RC_R1"
    expect_eq "R2 exit status" 0 "$RC_R2"
    expect_eq "R1 reports R2 at the old, then the new address" \
        "found R2 10.213.8.1 7402"$'\n'"found R2 10.213.7.1 7402" "$(out R1)"
    expect_eq "R2 reports R1 at the old, then the new address" \
        "found R1 10.213.8.1 7401"$'\n'"found R1 10.213.7.1 7401" "$(out R2)"
    expect_contains "R1 noticed its new address" '"event":"addresses_changed"' "$(err R1)"
    check_clean R1 R2
}

run_section "three namespaces on a bridge: store A finds itself, not the decoy" three_namespaces
run_section "two responders in one namespace do not collide" one_namespace
run_section "a duplicated node id is renamed, still found" name_collision
run_section "a loopback-only host: two responders on 127.0.0.1" loopback_only
run_section "a renumbered peer is reported again at its new address" renumbered
finish
