# tests/cli/lib.sh: shared helpers for the shell-level tests. Source it from
# a test run with `bash` under `set -euo pipefail`:
#
#   . "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
#
# Environment (set by CTest, see CMakeLists.txt): KASSA_BIN (directory of the
# kassa binary and the helper programs), KASSA_SRC (repository root),
# KASSA_TEST_FIXTURES (tests/fixtures). When run by hand from the repository
# root they default to build/bin, . and tests/fixtures.
#
# Helpers:
#   make_tmpdir                 sets $TEST_TMP: a fresh directory removed on exit
#   on_exit CMD                 runs CMD at exit (before the directories go)
#   kassa ARGS...               runs $KASSA_BIN/kassa; a failure is fatal with
#                               the command line and its stderr
#   fail MESSAGE                prints "FAIL: file:line: MESSAGE" (+ stack), exits 1
#   expect_eq WHAT EXPECTED GOT
#   expect_match WHAT REGEX TEXT          (grep -E)
#   expect_contains WHAT FIXED TEXT       (grep -F)
#   expect_no_contains WHAT FIXED TEXT
#   expect_fail [OPTIONS] [--] CMD...     CMD must fail cleanly (see below)
#   kassa_raw ARGS...           the binary with no checks (expect_fail uses it)
#   state_hash DIR / vv_of DIR
#   snapshot DIR                prints state-hash, vv and counts (one blob)
#   expect_unchanged DIR CMD... runs CMD, then checks snapshot DIR is unchanged
#   run_section NAME FN [ARGS]  runs FN in a subshell; a failure is recorded
#                               and the test goes on with the next section
#   finish                      exits 1 if any section failed, else prints PASS
#   json_field KEY              stdin: one flat JSON object; prints KEY's value
#   json_split                  stdin: a JSON array of flat objects; one per line
#   json_drop_arrays            stdin: JSON with nested arrays removed
#   json_count                  stdin: a JSON array of flat objects; its length

if [ -n "${KASSA_TEST_LIB_LOADED:-}" ]; then
    return 0
fi
KASSA_TEST_LIB_LOADED=1

set -euo pipefail
set -E # the ERR trap below also fires inside functions

_lib_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${KASSA_SRC:=$(cd "$_lib_dir/../.." && pwd)}"
: "${KASSA_BIN:=$KASSA_SRC/build/bin}"
: "${KASSA_TEST_FIXTURES:=$KASSA_SRC/tests/fixtures}"
export KASSA_SRC KASSA_BIN KASSA_TEST_FIXTURES
# Tests pass --data explicitly; an inherited KASSA_DATA would hide mistakes.
unset KASSA_DATA

TEST_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)

# Prints where the test failed (the innermost frame outside this file), then
# the call stack, and exits 1.
fail()
{
    local where="" i
    for ((i = 1; i < ${#BASH_SOURCE[@]}; i++)); do
        if [ "${BASH_SOURCE[$i]}" != "${BASH_SOURCE[0]}" ]; then
            where="$(basename "${BASH_SOURCE[$i]}"):${BASH_LINENO[$((i - 1))]}"
            break
        fi
    done
    [ -n "$where" ] || where="$(basename "${BASH_SOURCE[1]:-?}"):${BASH_LINENO[0]}"
    {
        echo "FAIL: $TEST_NAME: $where: $*"
        for ((i = 1; i < ${#FUNCNAME[@]}; i++)); do
            echo "    at $(basename "${BASH_SOURCE[$i]}"):${BASH_LINENO[$((i - 1))]} ${FUNCNAME[$i]}"
        done
    } >&2
    # Tell the ERR trap (maybe in a parent shell) the failure is reported,
    # and make it fatal even when this runs in a command substitution whose
    # status bash drops (`expect_eq X "$(kassa ...)"`): the next check, or
    # the exit of the test, sees the mark.
    if [ -n "${_lib_work:-}" ]; then
        : >"$_lib_work/failed" 2>/dev/null || true
        : >"$_lib_work/fatal" 2>/dev/null || true
    fi
    exit 1
}

# Stops at once when a failure was reported in a subshell; counts checks
# (in a file, so that checks made in subshells count too).
_lib_check_fatal()
{
    if [ -n "${_lib_work:-}" ] && [ "${1:-}" != nocount ]; then
        printf . >>"$_lib_work/checks"
    fi
    if [ -n "${_lib_work:-}" ] && [ -e "$_lib_work/fatal" ]; then
        echo "FAIL: $TEST_NAME: stopping after the failure reported above" >&2
        exit 1
    fi
}

# Any command failing outside a check (set -e) is reported with its line.
_lib_on_err()
{
    local rc=$?
    if [ -n "${_lib_work:-}" ]; then
        [ ! -e "$_lib_work/failed" ] || return 0
        : >"$_lib_work/failed" 2>/dev/null || true
    fi
    echo "FAIL: $TEST_NAME: $(basename "${BASH_SOURCE[1]:-?}"):${BASH_LINENO[0]}: command exited $rc: $BASH_COMMAND" >&2
}
trap _lib_on_err ERR

note() { echo "-- $*"; }

# ---- temporary directory and cleanup ----

_lib_tmp_dirs=()
_lib_exit_cmds=()
_lib_cleanup()
{
    local rc=$? c d
    trap - ERR
    # A failure reported in a subshell fails the test even if nothing after
    # it checked.
    if [ "$rc" -eq 0 ] && [ -e "$_lib_work/fatal" ] && [ "$BASHPID" = "$$" ]; then
        echo "FAIL: $TEST_NAME: a check failed in a subshell (see above)" >&2
        rc=1
    fi
    for c in "${_lib_exit_cmds[@]}"; do
        eval "$c" || true
    done
    for d in "${_lib_tmp_dirs[@]}"; do
        if [ -n "$d" ] && [ -e "$d" ]; then rm -rf -- "$d"; fi
    done
    exit "$rc"
}
trap _lib_cleanup EXIT
# Killed by CTest's timeout or ^C: still clean up (and kill what we started).
trap 'exit 143' TERM
trap 'exit 130' INT

# on_exit CMD: run CMD (eval'd) when the test exits, before the temporary
# directories are removed (e.g. killing a process the test started, by PID).
on_exit() { _lib_exit_cmds+=("$1"); }

make_tmpdir()
{
    TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/kassa-$TEST_NAME.XXXXXX") ||
        fail "mktemp -d failed"
    _lib_tmp_dirs+=("$TEST_TMP")
}

# The helpers' own scratch files, created here in the main shell so that
# command substitutions reuse them instead of leaking new ones.
_lib_work=$(mktemp -d "${TMPDIR:-/tmp}/kassa-$TEST_NAME-lib.XXXXXX")
_lib_tmp_dirs+=("$_lib_work")
_lib_err=$_lib_work/kassa.err # stderr of the kassa wrapper
_lib_ferr=$_lib_work/fail.err # stderr and stdout of expect_fail's command
_lib_fout=$_lib_work/fail.out

# ---- running kassa ----

[ -x "$KASSA_BIN/kassa" ] || {
    echo "FAIL: $TEST_NAME: no kassa binary at $KASSA_BIN/kassa (build first, set KASSA_BIN)" >&2
    exit 1
}

# Sanitizer reports in a command's stderr are always a failure, even when the
# command itself was expected to fail.
_lib_check_sanitizers()
{
    if grep -qE 'AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:' "$1"; then
        fail "sanitizer report from: $2"$'\n'"$(cat "$1")"
    fi
}

# kassa ARGS...: the real binary. stdout passes through; a non-zero exit
# fails the test, quoting the command and its stderr.
kassa()
{
    _lib_check_fatal nocount
    local rc=0
    "$KASSA_BIN/kassa" "$@" 2>"$_lib_err" || rc=$?
    _lib_check_sanitizers "$_lib_err" "kassa $*"
    if [ "$rc" -ne 0 ]; then
        fail "kassa $* exited $rc; stderr:"$'\n'"$(cat "$_lib_err")"
    fi
    # Warnings on stderr are allowed; pass them on.
    cat "$_lib_err" >&2
}

# ---- assertions ----

expect_eq()
{
    _lib_check_fatal
    local what=$1 expected=$2 got=$3
    [ "$expected" == "$got" ] ||
        fail "$what: expected [$expected], got [$got]"
}

expect_match()
{
    _lib_check_fatal
    local what=$1 re=$2 text=$3
    grep -qE -- "$re" <<<"$text" ||
        fail "$what: no line matches /$re/ in:"$'\n'"$text"
}

expect_contains()
{
    _lib_check_fatal
    local what=$1 needle=$2 text=$3
    grep -qF -- "$needle" <<<"$text" ||
        fail "$what: [$needle] not found in:"$'\n'"$text"
}

expect_no_contains()
{
    _lib_check_fatal
    local what=$1 needle=$2 text=$3
    if grep -qF -- "$needle" <<<"$text"; then
        fail "$what: [$needle] unexpectedly found in:"$'\n'"$text"
    fi
}

# expect_fail [OPTIONS] [--] CMD...
#
# Runs CMD (a command or a function, e.g. `kassa_raw --data D sale ...`) and
# asserts it failed cleanly: exit status non-zero and below 128 (no signal,
# no abort), nothing on stdout, no sanitizer report, and exactly one line on
# stderr, starting with "kassa: ". Options:
#   --rc N          the exit status must be N (default: 1..127)
#   --usage         a usage error: status 2, stderr is "usage: kassa ..." lines
#   --lines N       stderr has N lines; the LAST must start with "kassa: "
#   --any-lines     stderr has 1 or more lines; the last starts with "kassa: "
#   --grep REGEX    stderr must match REGEX (grep -E; repeatable)
#   --stdout-ok     do not require an empty stdout
# Afterwards $FAIL_RC, $FAIL_STDERR and $FAIL_STDOUT hold what happened.
expect_fail()
{
    _lib_check_fatal
    local want_rc="" lines=1 usage=0 stdout_ok=0 greps=()
    while [ $# -gt 0 ]; do
        case $1 in
        --rc) want_rc=$2; shift 2 ;;
        --usage) usage=1; want_rc=2; lines=any; shift ;;
        --lines) lines=$2; shift 2 ;;
        --any-lines) lines=any; shift ;;
        --grep) greps+=("$2"); shift 2 ;;
        --stdout-ok) stdout_ok=1; shift ;;
        --) shift; break ;;
        *) break ;;
        esac
    done
    [ $# -gt 0 ] || fail "expect_fail: no command"
    # The checking wrapper would stop the test on the expected failure.
    [ "$1" != kassa ] || set -- kassa_raw "${@:2}"
    local rc=0
    "$@" >"$_lib_fout" 2>"$_lib_ferr" || rc=$?
    # shellcheck disable=SC2034 # for the caller
    FAIL_RC=$rc
    FAIL_STDERR=$(cat "$_lib_ferr")
    FAIL_STDOUT=$(cat "$_lib_fout")
    local show="command: $*"$'\n'"exit status: $rc"$'\n'"stderr:"$'\n'"$FAIL_STDERR"$'\n'"stdout:"$'\n'"$FAIL_STDOUT"
    _lib_check_sanitizers "$_lib_ferr" "$*"
    [ "$rc" -ne 0 ] || fail "expected failure, but it succeeded"$'\n'"$show"
    [ "$rc" -lt 128 ] || fail "killed by a signal or aborted"$'\n'"$show"
    if [ -n "$want_rc" ] && [ "$rc" -ne "$want_rc" ]; then
        fail "expected exit status $want_rc"$'\n'"$show"
    fi
    if [ "$stdout_ok" -eq 0 ] && [ -s "$_lib_fout" ]; then
        fail "a failed command printed on stdout"$'\n'"$show"
    fi
    local n
    n=$(wc -l <"$_lib_ferr")
    # A last line without a newline still counts.
    if [ -s "$_lib_ferr" ] && [ "$(tail -c1 "$_lib_ferr" | od -An -c | tr -d ' ')" != '\n' ]; then
        n=$((n + 1))
    fi
    [ "$n" -ge 1 ] || fail "nothing on stderr"$'\n'"$show"
    if [ "$usage" -eq 1 ]; then
        head -n1 "$_lib_ferr" | grep -qE '^(usage: kassa |kassa: )' ||
            fail "expected a usage message on stderr"$'\n'"$show"
    else
        if [ "$lines" != any ] && [ "$n" -ne "$lines" ]; then
            fail "expected $lines line(s) on stderr, got $n"$'\n'"$show"
        fi
        tail -n1 "$_lib_ferr" | grep -q '^kassa: ' ||
            fail "the last stderr line does not start with \"kassa: \""$'\n'"$show"
        # The message itself must say something.
        tail -n1 "$_lib_ferr" | grep -qE '^kassa: .{8,}' ||
            fail "error message too short to be clear"$'\n'"$show"
    fi
    local re
    for re in "${greps[@]}"; do
        grep -qE -- "$re" "$_lib_ferr" || fail "stderr does not match /$re/"$'\n'"$show"
    done
    return 0
}

# kassa_raw ARGS...: the binary itself, no checks (for expect_fail).
kassa_raw() { "$KASSA_BIN/kassa" "$@"; }

# ---- state ----

state_hash() { kassa --data "$1" state-hash; }
vv_of() { kassa --data "$1" vv; }

# Everything a command could change: the projections' digest, the version
# vector, and the operation / pending / sale counts.
snapshot()
{
    local d=$1
    echo "state-hash $(kassa --data "$d" state-hash)"
    echo "vv:"
    kassa --data "$d" vv
    echo "status: $(kassa --data "$d" --json status | sed 's/,"db_size_bytes":[0-9]*//')"
}

# expect_unchanged DIR CMD...: CMD (usually an expect_fail ...) must leave
# the terminal in DIR exactly as it was.
expect_unchanged()
{
    _lib_check_fatal
    local dir=$1
    shift
    local before after
    before=$(snapshot "$dir")
    "$@"
    after=$(snapshot "$dir")
    [ "$before" == "$after" ] ||
        fail "state of $dir changed by: $*"$'\n'"before:"$'\n'"$before"$'\n'"after:"$'\n'"$after"
}

# ---- independent sections ----

# run_section NAME FN [ARGS...]: runs FN in a subshell with errexit on (the
# subshell is deliberately not in a condition, where bash would turn errexit
# off), so one failing section is reported and the next still runs. State
# a section leaves in data directories is kept; shell variables are not.
_lib_failed_sections=()
run_section()
{
    local name=$1 rc
    shift
    note "$name"
    rm -f "$_lib_work/failed" "$_lib_work/fatal"
    set +e
    (
        set -e
        "$@"
    )
    rc=$?
    set -e
    if [ -e "$_lib_work/fatal" ] && [ "$rc" -eq 0 ]; then
        echo "FAIL: $TEST_NAME: a check failed in a subshell of section \"$name\"" >&2
        rc=1
    fi
    rm -f "$_lib_work/failed" "$_lib_work/fatal"
    if [ "$rc" -ne 0 ]; then
        _lib_failed_sections+=("$name")
    fi
    return 0
}

finish()
{
    local n=0
    [ ! -e "$_lib_work/checks" ] || n=$(wc -c <"$_lib_work/checks")
    if [ ${#_lib_failed_sections[@]} -gt 0 ]; then
        echo "FAIL: $TEST_NAME: ${#_lib_failed_sections[@]} section(s) failed ($n checks made):" >&2
        printf '    %s\n' "${_lib_failed_sections[@]}" >&2
        exit 1
    fi
    echo "PASS: $TEST_NAME ($n checks)"
}

# ---- minimal JSON (kassa prints compact JSON on one line) ----

# json_field KEY: stdin is one object whose values are scalars; prints the
# value of KEY (strings unquoted, escapes kept). Fails unless KEY occurs
# exactly once.
json_field()
{
    local key=$1 text matches n
    text=$(cat)
    matches=$(grep -oE "\"$key\":(\"([^\"\\\\]|\\\\.)*\"|[-0-9.a-z]+)" <<<"$text" || true)
    n=$(grep -c . <<<"$matches" || true)
    [ "$n" -eq 1 ] || fail "json_field $key: found $n times in: $text"
    matches=${matches#\""$key"\":}
    matches=${matches#\"}
    matches=${matches%\"}
    printf '%s\n' "$matches"
}

# json_split: a JSON array of flat objects, one object per output line.
json_split()
{
    sed -e 's/^\[//' -e 's/\]$//' -e 's/},{/}\n{/g' | grep . || true
}

# json_drop_arrays: removes nested "key":[...] arrays (of flat objects), so
# json_field sees only the top-level scalars.
json_drop_arrays()
{
    sed -E 's/"[a-z_]+":\[[^]]*\],?//g'
}

# json_count: number of objects in a JSON array of flat objects.
json_count()
{
    json_split | grep -c . || true
}
