# tests/cli/netns.sh: private test networks made of network namespaces, for
# the tests of what crosses a network (mDNS, peer links). Source it after
# lib.sh and make_tmpdir. Nothing is made in the root namespace: the host's
# own network is never touched.
#
#   netns_require               skips (exit 0, "SKIP: ...") without root or `ip`
#   netns_setup CMD...          a setup step; failing means this machine cannot
#                               host the test (no namespaces, veth or bridge),
#                               which is a skip
#   netns_new NS                a namespace with lo up, removed at exit
#   netns_bridge NS             a namespace holding bridge br0
#   netns_on_bridge BR NS I ADDR/LEN
#                               namespace NS with eth0 (MULTICAST on) at
#                               ADDR/LEN, plugged into BR's bridge as port pI
#   netns_single_host NS ADDR/LEN
#                               one host, one link (veth v0, v1 both in NS)
#   netns_track PID             a process to stop (TERM, then KILL) at exit
#   netns_untrack PID           it was reaped: never signal that PID again
#
# CTest has no skip status for these tests, so a skip exits 0 with a SKIP
# line; the machines this project runs on are root and can make namespaces.

NETNS_CREATED=()
NETNS_PIDS=()

skip()
{
    echo "SKIP: $TEST_NAME: $*"
    exit 0
}

netns_require()
{
    [ "$(id -u)" -eq 0 ] || skip "creating network namespaces needs root"
    command -v ip >/dev/null 2>&1 || skip "no ip command (iproute2)"
}

_netns_cleanup()
{
    local pid ns i
    for pid in "${NETNS_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${NETNS_PIDS[@]}"; do
        for ((i = 0; i < 30; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    for ns in "${NETNS_CREATED[@]}"; do
        ip netns del "$ns" 2>/dev/null || true
    done
}
on_exit _netns_cleanup

netns_setup()
{
    if ! "$@" 2>"$TEST_TMP/setup.err"; then
        skip "cannot build the test network: '$*': $(head -n1 "$TEST_TMP/setup.err")"
    fi
}

netns_new()
{
    netns_setup ip netns add "$1"
    NETNS_CREATED+=("$1")
    netns_setup ip -n "$1" link set lo up
}

netns_bridge()
{
    netns_new "$1"
    netns_setup ip -n "$1" link add br0 type bridge
    netns_setup ip -n "$1" link set br0 up
}

netns_on_bridge()
{
    local br=$1 ns=$2 i=$3 addr=$4
    netns_new "$ns"
    # Both veth ends are created inside namespaces: nothing in the root one.
    netns_setup ip -n "$br" link add "p$i" type veth peer name eth0 netns "$ns"
    netns_setup ip -n "$br" link set "p$i" master br0
    netns_setup ip -n "$br" link set "p$i" up
    netns_setup ip -n "$ns" addr add "$addr" dev eth0
    netns_setup ip -n "$ns" link set eth0 multicast on
    netns_setup ip -n "$ns" link set eth0 up
}

# netns_single_host NS ADDR/LEN: one host with one network link: a veth
# pair with both ends in NS (not every kernel has the dummy link type). Only
# v0 has an address, so avahi uses v0 alone; multicast sent on it loops back
# to every socket of the namespace that joined the group, which is how
# responders on one machine hear each other.
netns_single_host()
{
    local ns=$1 addr=$2
    netns_new "$ns"
    netns_setup ip -n "$ns" link add v0 type veth peer name v1
    netns_setup ip -n "$ns" addr add "$addr" dev v0
    netns_setup ip -n "$ns" link set v0 multicast on
    netns_setup ip -n "$ns" link set v1 up
    netns_setup ip -n "$ns" link set v0 up
}

netns_track()
{
    NETNS_PIDS+=("$1")
}

netns_untrack()
{
    local p live=()
    for p in "${NETNS_PIDS[@]}"; do
        [ "$p" = "$1" ] || live+=("$p")
    done
    NETNS_PIDS=("${live[@]}")
}
