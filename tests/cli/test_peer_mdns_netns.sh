#!/usr/bin/env bash
# Store replication found by mDNS alone: three kassad terminals of store S1,
# each in its own network namespace on a private bridge, with no static
# peers ([peer] mdns = 1 only). They must discover each other, link up over
# mutually authenticated TLS and converge. A fourth terminal, T9, has a valid
# certificate of the same CA and store but is not in the others' roster: it
# is discovered too, and must be refused by the roster check, none of its
# operations applied.
#
#   namespace BR: bridge br0
#   namespace 1..3: eth0 10.213.2.1-3/24  kassad T1..T3
#   namespace 9:    eth0 10.213.2.9/24    kassad T9 (not in the roster)
#
# Sales are made with the kassa CLI on each terminal's data directory while
# its kassad runs; kassad notices another writer's commit (SQLite
# data_version) and pushes. Skipped ("SKIP: ...", exit 0) where network
# namespaces cannot be made.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
. "$(dirname "${BASH_SOURCE[0]}")/netns.sh"
netns_require

make_tmpdir
PFX=kmdns$$
NS_BR=$PFX-br
CA=$TEST_TMP/ca
NODES=(T1 T2 T3 T9)

kassa ca init --dir "$CA" >/dev/null
netns_bridge "$NS_BR"
for n in "${NODES[@]}"; do
    i=${n#T}
    kassa ca issue --dir "$CA" --store S1 --node "$n" --out "$TEST_TMP/cert-$n" >/dev/null
    kassa --data "$TEST_TMP/$n" init --store S1 --node "$n" >/dev/null
    kassa --data "$TEST_TMP/$n" catalog import "$KASSA_SRC/data/demo/catalog.csv" >/dev/null
    netns_on_bridge "$NS_BR" "$PFX-$i" "$i" "10.213.2.$i/24"
    roster="T1 T2 T3"
    [ "$n" != T9 ] || roster="T1 T2 T3 T9"
    cat >"$TEST_TMP/$n.ini" <<INI
[terminal]
data_dir = $TEST_TMP/$n
[api]
listen = 127.0.0.1:8080
web_root = $KASSA_SRC/web
[peer]
listen = 10.213.2.$i:7400
cert_dir = $TEST_TMP/cert-$n
roster = $roster
mdns = 1
anti_entropy_ms = 300
INI
done

START_MS=$(date +%s%3N)
for n in "${NODES[@]}"; do
    ip netns exec "$PFX-${n#T}" "$KASSA_BIN/kassad" --config "$TEST_TMP/$n.ini" \
        >"$TEST_TMP/$n.log" 2>&1 &
    netns_track $!
    printf -v "PID_$n" '%s' "$!"
done

# peers_up N: how many peers T<N>'s kassad reports connected (peers.json).
peers_up()
{
    kassa --data "$TEST_TMP/$1" status --json | tr '{' '\n' | grep -c '"connected":true' || true
}

linked()
{
    local n
    for n in T1 T2 T3; do
        [ "$(peers_up "$n")" = 2 ] || return 1
    done
}

for ((i = 0; i < 150; i++)); do
    linked && break
    sleep 0.1
done
for n in T1 T2 T3; do
    expect_eq "$n links up with the two others by mDNS (log: $(tail -n 5 "$TEST_TMP/$n.log"))" \
        2 "$(peers_up "$n")"
done
note "three terminals linked by mDNS after $(($(date +%s%3N) - START_MS)) ms"

# Each terminal sells; every sale must reach the others.
for n in T1 T2 T3 T9; do
    for k in 1 2 3; do
        kassa --data "$TEST_TMP/$n" sale --line COF-250:1 --pay cash:10 >/dev/null
    done
done
SOLD_MS=$(date +%s%3N)
converged()
{
    local h1 h2 h3
    h1=$(state_hash "$TEST_TMP/T1")
    h2=$(state_hash "$TEST_TMP/T2")
    h3=$(state_hash "$TEST_TMP/T3")
    [ "$h1" = "$h2" ] && [ "$h2" = "$h3" ] &&
        [ "$(vv_of "$TEST_TMP/T1" | grep -c '^T[123] ')" = 3 ]
}
for ((i = 0; i < 100; i++)); do
    converged && break
    sleep 0.1
done
converged || fail "T1..T3 did not converge: $(for n in T1 T2 T3; do echo "$n: $(vv_of "$TEST_TMP/$n" | tr '\n' ' ')"; done)"
note "converged $(($(date +%s%3N) - SOLD_MS)) ms after the last sale"

for n in T1 T2 T3; do
    vv=$(vv_of "$TEST_TMP/$n")
    expect_match "$n holds every honest origin" '^T1 [0-9]+' "$vv"
    expect_no_contains "$n holds nothing of T9 (not in the roster)" "T9 " "$vv"
    # Each honest terminal received the catalog's 40 units (its own
    # import); T9's import and sales never count.
    expect_eq "$n: stock of COF-250 is 3 x 40 received - 9 sold" \
        "$((3 * 40 - 9))" "$(kassa --data "$TEST_TMP/$n" stock show COF-250 | awk '{print $2}' | head -n1)"
    expect_contains "$n found its peers by mDNS" '"event":"discovered"' "$(cat "$TEST_TMP/$n.log")"
    expect_no_contains "$n logged no error" '"level":"error"' "$(cat "$TEST_TMP/$n.log")"
done
for n in T1 T2 T3; do
    expect_match "$n refused T9 (discovered, valid CA and store) for the roster" \
        '"event":"link_refused","claimed":"S1/T9".*roster' "$(cat "$TEST_TMP/$n.log")"
done
expect_no_contains "T9 holds nothing of the others" "T1 " "$(vv_of "$TEST_TMP/T9")"

for n in "${NODES[@]}"; do
    pidvar=PID_$n
    kill -TERM "${!pidvar}"
    rc=0
    wait "${!pidvar}" || rc=$?
    netns_untrack "${!pidvar}"
    expect_eq "$n stops cleanly on SIGTERM" 0 "$rc"
done
finish
