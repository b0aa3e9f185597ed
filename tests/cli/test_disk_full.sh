#!/usr/bin/env bash
# Storage exhaustion: a terminal whose data directory is on a 1 MiB tmpfs.
# The tmpfs is mounted inside a private mount namespace (unshare --mount
# --propagation private), so it is invisible outside this test and goes away
# with it. Needs root; CI runs as root, so anything missing is a FAILURE, not
# a skip.
#
# Scenarios:
#  A. sell through the CLI until a sale fails (a filler file leaves 64 KiB):
#     the failing sale exits 1 with one "storage full" line, the sale count
#     is unchanged, integrity_check and log verify pass, a retry changes
#     nothing; after the filler is removed the next sale just works.
#  B. the disk completely full (0 bytes free): a sale fails with "storage
#     full", nothing changes; after freeing space, the next sale works.
#  C. a long-running writer (crash_writer) whose WAL grows until the disk is
#     full: it stops with "storage full", every sale it acknowledged is in
#     the database, and after freeing space a new writer carries on.
#  D. importing a large export file onto a nearly full disk: refused whole
#     with "storage full"; after freeing space the same file imports.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIZE=1M

if [ "${1:-}" != --inside ]; then
    # ---- outside: check the prerequisites, then re-run this file inside a
    # private mount namespace.
    [ "$(id -u)" -eq 0 ] ||
        fail "must run as root (uid $(id -u)): the test mounts a tmpfs in a private mount namespace; CI runs it as root"
    for tool in unshare mount umount sqlite3 dd truncate; do
        command -v "$tool" >/dev/null || fail "$tool not found (util-linux / coreutils / sqlite3 needed)"
    done
    err=$(unshare --mount --propagation private true 2>&1) ||
        fail "unshare --mount --propagation private does not work here: $err"
    make_tmpdir
    rc=0
    unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" --inside "$TEST_TMP" || rc=$?
    # The namespace is gone with its last process, and the tmpfs with it.
    if grep -qF "$TEST_TMP" /proc/self/mounts; then
        fail "the tmpfs leaked out of the private mount namespace"
    fi
    [ "$rc" -eq 0 ] || exit "$rc"
    exit 0
fi

# ---- inside the private mount namespace
BASE=$2
M=$BASE/mnt
mkdir -p "$M"
mount -t tmpfs -o "size=$SIZE,mode=0755" tmpfs "$M" || fail "mount -t tmpfs on $M failed"
expect_eq "file system of $M" tmpfs "$(stat -f -c %T "$M")"
T=$M/t1
FILLER=$M/filler
SCRATCH=$BASE/scratch # outside the tmpfs
mkdir -p "$SCRATCH"

free_kib() { df -k --output=avail "$M" | tail -n1 | tr -d ' '; }
# fill_disk [KIB_LEFT]: fills the tmpfs with the filler file, then gives back
# KIB_LEFT KiB.
fill_disk()
{
    dd if=/dev/zero of="$FILLER" bs=4k oflag=append conv=notrunc status=none 2>/dev/null || true
    expect_eq "free space after filling" 0 "$(free_kib)"
    if [ "${1:-0}" -gt 0 ]; then
        truncate -s "-${1}K" "$FILLER"
    fi
}
sales_count() { kassa --data "$T" --json status | json_field sales; }
sale_ids() { kassa --data "$T" --json sales list | grep -o '"sale_id":"[^"]*"' | cut -d'"' -f4 | sort; }
db_ok()
{
    expect_eq "$1: integrity_check" ok "$(sqlite3 "$T/kassa.db" 'PRAGMA integrity_check')"
    expect_match "$1: log verify" '^log ok: ' "$(kassa --data "$T" log verify)"
}

kassa --data "$T" init --store S1 --node T1 >/dev/null
kassa --data "$T" catalog import "$KASSA_TEST_FIXTURES/catalog_small.csv" >/dev/null

# ---------------------------------------------------------------- A
scenario_a()
{
    fill_disk 64
    local n0 n=0 rc=0 out err ids
    n0=$(sales_count)
    : >"$SCRATCH/acked"
    while :; do
        rc=0
        "$KASSA_BIN/kassa" --data "$T" --json sale --line COFFEE-250:1 --line MILK-1L:2 --pay cash:20 \
            >"$SCRATCH/out" 2>"$SCRATCH/err" || rc=$?
        [ "$rc" -eq 0 ] || break
        json_drop_arrays <"$SCRATCH/out" | json_field sale_id >>"$SCRATCH/acked"
        n=$((n + 1))
        [ "$n" -lt 3000 ] || fail "3000 sales on a full 1 MiB tmpfs and none failed"
    done
    out=$(cat "$SCRATCH/out")
    err=$(cat "$SCRATCH/err")
    echo "   sale $((n + 1)) failed with $(free_kib) KiB free: $err"
    expect_eq "failing sale: exit status" 1 "$rc"
    expect_eq "failing sale: stdout" "" "$out"
    expect_eq "failing sale: stderr lines" 1 "$(grep -c '' <<<"$err")"
    expect_match "failing sale: message" '^kassa: .*storage full' "$err"
    expect_eq "sales after the failed sale" $((n0 + n)) "$(sales_count)"
    ids=$(sale_ids)
    while read -r id; do
        grep -qx "$id" <<<"$ids" || fail "acknowledged sale $id is missing"
    done <"$SCRATCH/acked"
    db_ok "after the failed sale"
    # Still full: a retry of the same sale fails the same way and changes
    # nothing. (A smaller sale may still fit in what is left.)
    expect_unchanged "$T" expect_fail --grep 'storage full' \
        kassa --data "$T" sale --line COFFEE-250:1 --line MILK-1L:2 --pay cash:20
    rm -f "$FILLER"
    # No manual step: the next sale just works.
    kassa --data "$T" sale --line COFFEE-250:1 --pay cash:20 >/dev/null
    expect_eq "sales after freeing space" $((n0 + n + 1)) "$(sales_count)"
    db_ok "after freeing space"
}

# ---------------------------------------------------------------- B
scenario_b()
{
    local before
    before=$(sales_count)
    fill_disk 0
    # One clean line and status 1 first; what it says is checked last, so
    # the recovery below is tested whatever the wording.
    expect_fail kassa --data "$T" sale --line COFFEE-250:1 --pay cash:20
    local msg=$FAIL_STDERR
    echo "   sale with 0 KiB free: $msg"
    rm -f "$FILLER"
    db_ok "after a sale on a full disk"
    expect_eq "sales unchanged by the sale on a full disk" "$before" "$(sales_count)"
    kassa --data "$T" sale --line COFFEE-250:1 --pay cash:20 >/dev/null
    expect_eq "next sale after freeing space" $((before + 1)) "$(sales_count)"
    expect_match "message of a sale on a full disk" 'storage full' "$msg"
}

# ---------------------------------------------------------------- C
scenario_c()
{
    local writer=$KASSA_BIN/crash_writer rc=0 n0 id ids
    [ -x "$writer" ] || fail "no crash_writer at $writer"
    fill_disk 600 # room for the WAL to grow a while
    n0=$(sales_count)
    # It sells until a sale fails, then exits 1 with the reason on stderr.
    timeout 60 "$writer" "$T" 42 >"$SCRATCH/w.out" 2>"$SCRATCH/w.err" || rc=$?
    expect_eq "writer exit status on a full disk" 1 "$rc"
    expect_match "writer stopped by a full disk" 'storage full' "$(cat "$SCRATCH/w.err")"
    local n
    n=$(grep -c . "$SCRATCH/w.out" || true)
    echo "   writer acknowledged $n sales before the disk was full"
    [ "$n" -gt 0 ] || fail "the writer acknowledged no sale"
    ids=$(sale_ids)
    while read -r id; do
        grep -qx "$id" <<<"$ids" || fail "acknowledged sale $id is missing"
    done <"$SCRATCH/w.out"
    expect_eq "sales = acknowledged" $((n0 + n)) "$(sales_count)"
    db_ok "after the writer hit a full disk"
    rm -f "$FILLER"
    # No manual step: the next sale through the CLI works...
    kassa --data "$T" sale --line COFFEE-250:1 --pay cash:20 >/dev/null
    expect_eq "sales after freeing space" $((n0 + n + 1)) "$(sales_count)"
    # ...and so does a new writer (5 sales, then it closes the terminal).
    rc=0
    "$writer" "$T" 43 5 >"$SCRATCH/w2.out" 2>"$SCRATCH/w2.err" || rc=$?
    expect_eq "second writer ($(cat "$SCRATCH/w2.err"))" 0 "$rc"
    expect_eq "second writer's sales" 5 "$(grep -c . "$SCRATCH/w2.out")"
    ids=$(sale_ids)
    while read -r id; do
        grep -qx "$id" <<<"$ids" || fail "acknowledged sale $id is missing"
    done <"$SCRATCH/w2.out"
    db_ok "after the second writer"
}

# ---------------------------------------------------------------- D
scenario_d()
{
    # A big export made on a terminal outside the tmpfs (3000 sales, some
    # 400 KiB once applied), imported while the tmpfs has 100 KiB left:
    # refused whole.
    local src=$SCRATCH/src ops
    kassa --data "$src" init --store S1 --node T9 >/dev/null
    kassa --data "$src" catalog import "$KASSA_TEST_FIXTURES/catalog_small.csv" >/dev/null
    "$KASSA_BIN/crash_writer" "$src" 7 3000 >/dev/null
    kassa --data "$src" export >"$SCRATCH/big.bin"
    ops=$(kassa --data "$src" vv | awk '{s += $2} END {print s}')
    echo "   export of $ops operations, $(stat -c %s "$SCRATCH/big.bin") bytes"
    expect_eq "operations to import" 3025 "$ops"
    fill_disk 100
    expect_unchanged "$T" expect_fail --grep 'storage full' --grep 'nothing imported' \
        kassa --data "$T" import "$SCRATCH/big.bin"
    db_ok "after a refused import"
    rm -f "$FILLER"
    expect_eq "import after freeing space" "$ops" \
        "$(kassa --data "$T" --json import "$SCRATCH/big.bin" | json_field applied)"
    db_ok "after the import"
}

run_section "A: sell until the disk is full, then free space" scenario_a
rm -f "$FILLER"
run_section "B: a sale on a completely full disk" scenario_b
rm -f "$FILLER"
run_section "C: a long-running writer fills the disk" scenario_c
rm -f "$FILLER"
run_section "D: importing an export file onto a full disk" scenario_d
rm -f "$FILLER"
finish
