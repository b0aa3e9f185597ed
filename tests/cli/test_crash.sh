#!/usr/bin/env bash
# Crash test: crash_writer (tests/progs/crash_writer.c) sells in a loop and
# prints each sale id once term_sale has returned KASSA_OK. Each round kills
# it with SIGKILL after a random 20-300 ms; then every acknowledged sale must
# be in the database, the database must pass PRAGMA integrity_check and
# `kassa log verify`, and the next round carries on with the same data
# directory. At most one sale per round may have committed without its
# acknowledgement (killed between commit and print), never more, and no sale
# id is ever acknowledged twice.
#
# Then `kassa import` of a big export is killed at random moments: the
# receiving terminal holds all of the file or none of it, never a part.
#
# KASSA_CRASH_ROUNDS (default 30) and KASSA_CRASH_SEED (default: random,
# printed) reproduce a run.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

WRITER=$KASSA_BIN/crash_writer
[ -x "$WRITER" ] || fail "no crash_writer at $WRITER (build the tests/progs helpers)"
ROUNDS=${KASSA_CRASH_ROUNDS:-30}
SEED=${KASSA_CRASH_SEED:-$(( $(date +%s) % 100000 + $$ ))}
RANDOM=$SEED
echo "seed $SEED (KASSA_CRASH_SEED=$SEED reproduces the kill times), $ROUNDS rounds"

make_tmpdir
D=$TEST_TMP/t1
kassa --data "$D" init --store S1 --node T1 >/dev/null
kassa --data "$D" catalog import "$KASSA_TEST_FIXTURES/catalog_small.csv" >/dev/null

WRITER_PID=
# shellcheck disable=SC2016 # expanded at exit
on_exit '[ -z "$WRITER_PID" ] || kill -9 "$WRITER_PID" 2>/dev/null || true'

START=$SECONDS
acked_total=0
: >"$TEST_TMP/acked.all"
for ((round = 1; round <= ROUNDS; round++)); do
    acks=$TEST_TMP/acks.$round
    errs=$TEST_TMP/errs.$round
    ms=$((20 + RANDOM % 281))
    "$WRITER" "$D" "$((SEED * 1000 + round))" >"$acks" 2>"$errs" &
    WRITER_PID=$!
    sleep "$(printf '0.%03d' "$ms")"
    if ! kill -0 "$WRITER_PID" 2>/dev/null; then
        rc=0
        wait "$WRITER_PID" 2>/dev/null || rc=$?
        WRITER_PID=
        fail "round $round: crash_writer exited on its own (status $rc) before the kill:"$'\n'"$(cat "$errs")"
    fi
    kill -9 "$WRITER_PID"
    rc=0
    wait "$WRITER_PID" 2>/dev/null || rc=$?
    WRITER_PID=
    # 137 = killed by SIGKILL. Anything else: it had stopped by itself just
    # before the kill (an error, an abort, a sanitizer report).
    [ "$rc" -eq 137 ] ||
        fail "round $round: crash_writer ended with status $rc, not by SIGKILL:"$'\n'"$(cat "$errs")"
    [ ! -s "$errs" ] || fail "round $round: crash_writer wrote on stderr:"$'\n'"$(cat "$errs")"

    # Acknowledgements are whole lines (one write per fflush of a short line).
    if [ -s "$acks" ] && [ "$(tail -c1 "$acks" | od -An -c | tr -d ' ')" != '\n' ]; then
        fail "round $round: partial acknowledgement line: $(tail -n1 "$acks")"
    fi
    bad=$(grep -vE '^T1-[0-9]+$' "$acks" || true)
    [ -z "$bad" ] || fail "round $round: unexpected output from crash_writer: $bad"
    n=$(grep -c . "$acks" || true)
    acked_total=$((acked_total + n))
    cat "$acks" >>"$TEST_TMP/acked.all"

    # Every acknowledged sale survived, in this round and all before.
    kassa --data "$D" --json sales list | grep -o '"sale_id":"[^"]*"' | cut -d'"' -f4 |
        sort >"$TEST_TMP/present"
    sort "$TEST_TMP/acked.all" >"$TEST_TMP/acked.sorted"
    lost=$(comm -23 "$TEST_TMP/acked.sorted" "$TEST_TMP/present")
    [ -z "$lost" ] || fail "round $round (killed after ${ms} ms): acknowledged sales lost: $(tr '\n' ' ' <<<"$lost")"
    dup=$(uniq -d "$TEST_TMP/acked.sorted")
    [ -z "$dup" ] || fail "round $round: sale ids acknowledged twice: $(tr '\n' ' ' <<<"$dup")"
    present=$(grep -c . "$TEST_TMP/present" || true)
    # Unacknowledged but committed: at most the one in flight per round.
    extra=$((present - acked_total))
    if [ "$extra" -lt 0 ] || [ "$extra" -gt "$round" ]; then
        fail "round $round: $present sales in the database for $acked_total acknowledged in $round rounds"
    fi

    ic=$(sqlite3 "$D/kassa.db" 'PRAGMA integrity_check')
    expect_eq "round $round: integrity_check" ok "$ic"
    out=$(kassa --data "$D" log verify)
    expect_match "round $round: log verify" '^log ok: ' "$out"
done

# ---- phase 2: kill `kassa import` of a big export at random moments. The
# import is one transaction: each time the receiving terminal holds all of
# the file's operations or none of them.
IMPORT_ROUNDS=${KASSA_CRASH_IMPORT_ROUNDS:-8}
kassa --data "$D" export >"$TEST_TMP/all.bin"
FULL_VV=$(kassa --data "$D" --json vv)
FULL_HASH=$(state_hash "$D")
fresh_receiver()
{
    RECV=$TEST_TMP/recv.$1
    kassa --data "$RECV" init --store S1 --node T2 >/dev/null
}
fresh_receiver 0
EMPTY_HASH=$(state_hash "$RECV")
t0=$(date +%s%N)
kassa --data "$RECV" import "$TEST_TMP/all.bin" >/dev/null
import_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
expect_eq "an uninterrupted import" "$FULL_HASH" "$(state_hash "$RECV")"
killed_mid=0
fresh_receiver 1
for ((round = 1; round <= IMPORT_ROUNDS; round++)); do
    ms=$((RANDOM % (import_ms + 1)))
    "$KASSA_BIN/kassa" --data "$RECV" import "$TEST_TMP/all.bin" >/dev/null 2>"$TEST_TMP/imp.err" &
    WRITER_PID=$!
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
    kill -9 "$WRITER_PID" 2>/dev/null || true
    rc=0
    wait "$WRITER_PID" 2>/dev/null || rc=$?
    WRITER_PID=
    [ "$rc" -eq 0 ] || [ "$rc" -eq 137 ] ||
        fail "import round $round: kassa import ended with status $rc: $(cat "$TEST_TMP/imp.err")"
    expect_eq "import round $round: integrity_check" ok "$(sqlite3 "$RECV/kassa.db" 'PRAGMA integrity_check')"
    expect_match "import round $round: log verify" '^log ok: ' "$(kassa --data "$RECV" log verify)"
    vv=$(kassa --data "$RECV" --json vv)
    h=$(state_hash "$RECV")
    if [ "$vv" == "{}" ]; then
        expect_eq "import round $round: nothing imported, nothing changed" "$EMPTY_HASH" "$h"
        expect_eq "import round $round: nothing pending" 0 "$(kassa --data "$RECV" --json status | json_field pending)"
        killed_mid=$((killed_mid + 1))
    else
        expect_eq "import round $round: all or nothing (vv)" "$FULL_VV" "$vv"
        expect_eq "import round $round: all or nothing (state)" "$FULL_HASH" "$h"
        fresh_receiver $((round + 1))
    fi
done
kassa --data "$RECV" import "$TEST_TMP/all.bin" >/dev/null
expect_eq "import after the interrupted ones" "$FULL_HASH" "$(state_hash "$RECV")"
echo "import phase: $IMPORT_ROUNDS kills of a ${import_ms} ms import, $killed_mid before its commit"

present=$(kassa --data "$D" --json status | json_field sales)
# The terminal still sells normally afterwards.
kassa --data "$D" sale --line MILK-1L:1 --pay cash:5 >/dev/null
expect_eq "one more sale" $((present + 1)) "$(kassa --data "$D" --json status | json_field sales)"
[ "$acked_total" -gt 0 ] || fail "no sale was acknowledged in $ROUNDS rounds: the writer never got going"
echo "$ROUNDS rounds, $acked_total acknowledged sales, $present in the database" \
    "($((present - acked_total)) committed but unacknowledged), $((SECONDS - START)) s"
finish
