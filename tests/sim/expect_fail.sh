#!/usr/bin/env bash
# The checker's own test: a run with a deliberately injected bug must fail,
# and fail the way a real violation would be reported:
#   - exit status 1 (not 0, and not a crash or a sanitizer abort);
#   - "INVARIANT VIOLATED: <the expected invariant>";
#   - a trace and a "replay:" line;
# and the printed replay command must fail again with the same invariant,
# at the same virtual time, with the same message.
#
# usage: expect_fail.sh KASSA_SIM BUG SEED INVARIANT_REGEX
set -u
if [ $# -ne 4 ]; then
    echo "usage: $0 KASSA_SIM BUG SEED INVARIANT_REGEX" >&2
    exit 2
fi
sim=$1 bug=$2 seed=$3 want=$4
out=$(mktemp)
trap 'rm -f "$out" "$out.replay"' EXIT

fail() {
    echo "expect_fail: $*"
    echo "---- the end of the output ----"
    tail -n 40 "$out"
    exit 1
}

"$sim" --seed "$seed" --inject-bug "$bug" >"$out" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "kassa-sim --seed $seed --inject-bug $bug exited $rc, expected 1"
grep -Eq "^INVARIANT VIOLATED: ($want)\$" "$out" || fail "the expected invariant ($want) was not reported"
grep -q "^---- the last events" "$out" || fail "no trace printed"
replay=$(sed -n 's/^replay: //p' "$out")
[ -n "$replay" ] || fail "no replay command printed"

bash -c "$replay" >"$out.replay" 2>&1
rc=$?
[ "$rc" -eq 1 ] || fail "the replay ($replay) exited $rc, expected 1"
first=$(grep -A1 '^INVARIANT VIOLATED' "$out")
again=$(grep -A1 '^INVARIANT VIOLATED' "$out.replay")
[ "$first" = "$again" ] || fail "the replay failed differently: '$first' then '$again'"
echo "expect_fail: --inject-bug $bug, seed $seed, failed as it must, and so did its replay:"
echo "$first"
