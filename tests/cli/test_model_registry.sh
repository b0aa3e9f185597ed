#!/usr/bin/env bash
# The signed model registry through the kassa CLI (docs/MODELS.md), on the
# TFLM example models in tests/fixtures/tflm:
#  - keygen (secret key 0600), sign, verify, trust, install, list, active,
#    rollback: the happy path with the hello_world int8 model;
#  - refusals, each one line on stderr that leaves the active model as it
#    was: unsigned, wrong key, tampered model byte, tampered manifest,
#    truncated model, missing canary, failing canary, latency budget
#    exceeded, a replayed version, rollback with nothing to roll back to;
#  - the audit file;
#  - `model run`: hello_world int8 on the upstream test's inputs gives
#    dequantized values within 0.05 of sin(x); person_detect ranks the
#    person image "person" and the other "notperson"; bad inputs refused.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
D=$TEST_TMP/data
K=$TEST_TMP/keys
HW=$KASSA_TEST_FIXTURES/tflm/hello_world/hello_world_int8.tflite
PD=$KASSA_TEST_FIXTURES/tflm/person_detection
mkdir -p "$D" "$K"
RUNS=20
m() { kassa --data "$D" model "$@"; }

sha() { sha256sum "$1" | cut -c1-64; }
size() { stat -c %s "$1"; }

# hello_world: int8 input q -> x = (q + 128) * in_scale; the expected output
# is round(sin(x) / out_scale) + 5, which the model meets within 7 LSB
# (upstream's 0.05, plus rounding).
hw_expected() { awk -v q="$1" 'BEGIN { x = (q + 128) * 0.024480115622282028;
    y = sin(x) / 0.008290956728160381; printf "%d\n", (y < 0 ? y - 0.5 : y + 0.5) + 5 }'; }

# hw_dir DIR VERSION [BUDGET_MS] [EXPECTED_SHIFT]: a hello_world model
# directory (unsigned) with four canaries, one of them in a file.
hw_dir()
{
    local dir=$1 version=$2 budget=${3:-50} shift_lsb=${4:-0}
    mkdir -p "$dir"
    cp "$HW" "$dir/hello_world_int8.tflite"
    printf '\xc1' >"$dir/x_1.57.raw" # -63
    cat >"$dir/manifest.json" <<EOF
{
  "format": 1,
  "name": "hello_world",
  "version": $version,
  "created_at": "2024-05-01T12:00:00Z",
  "model": {"file": "hello_world_int8.tflite", "size_bytes": $(size "$HW"), "sha256": "$(sha "$HW")"},
  "input": {"dtype": "int8", "shape": [1, 1], "scale": 0.024480115622282028, "zero_point": -128,
            "preprocess": {"kind": "x"}},
  "output": {"dtype": "int8", "shape": [1, 1], "scale": 0.008290956728160381, "zero_point": 5},
  "labels": [],
  "canaries": [
    {"name": "x_0.77", "input": {"base64": "$(printf '\xa0' | base64)"}, "expected": [$(hw_expected -96)], "tolerance_lsb": 7},
    {"name": "x_1.57", "input": {"file": "x_1.57.raw", "sha256": "$(sha "$dir/x_1.57.raw")"}, "expected": [$(hw_expected -63)], "tolerance_lsb": 7},
    {"name": "x_2.3", "input": {"base64": "$(printf '\xde' | base64)"}, "expected": [$(($(hw_expected -34) + shift_lsb))], "tolerance_lsb": 7},
    {"name": "x_3.14", "input": {"base64": "$(printf '\x00' | base64)"}, "expected": [$(hw_expected 0)], "tolerance_lsb": 7}
  ],
  "latency_budget_ms": $budget
}
EOF
}

sign() { kassa model sign --key "$K/$1.key" "$2/hello_world_int8.tflite" "$2/manifest.json" >/dev/null; }

active_version() { m active hello_world | sed -n 's/^hello_world version \([0-9]*\):.*/\1/p'; }

# refused WHAT DIR REGEX: install DIR fails with REGEX, version 1 stays
# active (and the message says so once the manifest was readable: after the
# signature verified), the audit gains one ok:false line.
refused()
{
    local dir=$2 re=$3 before
    before=$(wc -l <"$D/models/audit.jsonl")
    expect_fail --grep "$re" --grep 'nothing changed' \
        kassa --data "$D" model install --runs "$RUNS" "$dir"
    if [ -e "$dir/manifest.json.sig" ] && ! grep -q 'does not verify' <<<"$FAIL_STDERR"; then
        expect_contains "$1: message" 'hello_world version 1 stays active' "$FAIL_STDERR"
    fi
    expect_eq "$1: active version" 1 "$(active_version)"
    expect_eq "$1: audit lines" $((before + 1)) "$(wc -l <"$D/models/audit.jsonl")"
    expect_contains "$1: audit" '"ok":false' "$(tail -n1 "$D/models/audit.jsonl")"
}

section_keys()
{
    local out
    out=$(kassa model keygen "$K/ops")
    expect_match "keygen output" '^key [0-9a-f]{16}: ' "$out"
    expect_eq "secret key mode" 600 "$(stat -c %a "$K/ops.key")"
    expect_eq "public key length" 45 "$(size "$K/ops.pub")"
    kassa model keygen "$K/rogue" >/dev/null
    expect_fail --grep 'File exists' kassa model keygen "$K/ops"
    expect_fail --usage kassa model keygen
    expect_fail --usage kassa model sign "$K/ops.key" a b
    out=$(m trust "$K/ops.pub")
    expect_match "trust output" '^trusted model key [0-9a-f]{16}$' "$out"
    ls "$D/models/trusted/"*.pub >/dev/null
    expect_fail --grep 'base64 of 32 bytes' kassa --data "$D" model trust "$K/ops.key"
    expect_fail --grep 'no data directory' kassa model trust "$K/ops.pub"
}

section_install_happy_path()
{
    local out
    hw_dir "$TEST_TMP/v1" 1
    expect_fail --grep 'unsigned model' kassa --data "$D" model verify "$TEST_TMP/v1"
    sign ops "$TEST_TMP/v1"
    expect_eq "sig length" 89 "$(size "$TEST_TMP/v1/manifest.json.sig")"
    out=$(kassa model verify --pub "$K/ops.pub" --runs "$RUNS" "$TEST_TMP/v1")
    expect_match "verify" '^verified hello_world version 1 \(key [0-9a-f]{16}; health check' "$out"
    expect_fail --grep 'does not verify' kassa model verify --pub "$K/rogue.pub" "$TEST_TMP/v1"
    [ ! -e "$D/models/installed" ] || fail "verify installed something"

    out=$(m install --runs "$RUNS" "$TEST_TMP/v1")
    expect_match "install" '^installed hello_world version 1 \(key [0-9a-f]{16}; health check: canaries ok, latency p99 [0-9.]+ ms over 20 runs\)$' "$out"
    expect_eq "active" 1 "$(active_version)"
    out=$(m active hello_world)
    expect_contains "active path" "$D/models/installed/hello_world/1/hello_world_int8.tflite" "$out"
    cmp -s "$HW" "$D/models/installed/hello_world/1/hello_world_int8.tflite" ||
        fail "installed model differs"
    expect_eq "ACTIVE" "active 1 highest 1" "$(tr '\n' ' ' <"$D/models/installed/hello_world/ACTIVE" | sed 's/ $//')"

    hw_dir "$TEST_TMP/v2" 2
    sign ops "$TEST_TMP/v2"
    # the manifest's path works as well as its directory
    out=$(m --json install --runs "$RUNS" "$TEST_TMP/v2/manifest.json")
    expect_contains "install json" '"ok":true' "$out"
    expect_contains "install json previous" '"previous":1' "$out"
    expect_eq "active" 2 "$(active_version)"
    out=$(m list)
    expect_match "list v1" '^hello_world +1 +- +2024-05-01T12:00:00Z +2704 [0-9a-f]{16}$' "$out"
    expect_match "list v2" '^hello_world +2 +active ' "$out"
    out=$(m --json list)
    expect_contains "list json" '"name":"hello_world","version":2,"active":true' "$out"

    out=$(m rollback --runs "$RUNS" hello_world)
    expect_match "rollback" '^rolled back to hello_world version 1 .*previous active version 2$' "$out"
    expect_eq "active after rollback" 1 "$(active_version)"
    expect_fail --grep 'no previous version to roll back to' --grep 'version 1 stays active' \
        kassa --data "$D" model rollback hello_world
    expect_eq "active" 1 "$(active_version)"
    expect_fail --grep 'no model of that name' kassa --data "$D" model rollback other
    expect_fail --grep 'no active model named other' kassa --data "$D" model active other
    # version 2 was installed once: installing it again is a replay
    expect_fail --grep 'not above version 2' kassa --data "$D" model install "$TEST_TMP/v2"
    expect_eq "audit lines" 6 "$(wc -l <"$D/models/audit.jsonl")"
}

section_refusals()
{
    local dir
    dir=$TEST_TMP/r_unsigned
    hw_dir "$dir" 3
    refused unsigned "$dir" 'unsigned model: no signature file'

    dir=$TEST_TMP/r_wrongkey
    hw_dir "$dir" 3
    sign rogue "$dir"
    refused "wrong key" "$dir" 'does not verify with any trusted key'

    dir=$TEST_TMP/r_model
    hw_dir "$dir" 3
    sign ops "$dir"
    printf '\x55' | dd of="$dir/hello_world_int8.tflite" bs=1 seek=1500 conv=notrunc status=none
    refused "tampered model" "$dir" "does not match the manifest's SHA-256"

    dir=$TEST_TMP/r_manifest
    hw_dir "$dir" 3
    sign ops "$dir"
    sed -i 's/"latency_budget_ms": 50/"latency_budget_ms": 90/' "$dir/manifest.json"
    refused "tampered manifest" "$dir" 'does not verify'

    dir=$TEST_TMP/r_truncated
    hw_dir "$dir" 3
    sign ops "$dir"
    truncate -s 2000 "$dir/hello_world_int8.tflite"
    refused truncated "$dir" 'is 2000 bytes, the manifest says 2704 \(truncated\)'

    dir=$TEST_TMP/r_canary_missing
    hw_dir "$dir" 3
    sign ops "$dir"
    rm "$dir/x_1.57.raw"
    refused "missing canary" "$dir" 'canary x_1.57: file .* missing'

    dir=$TEST_TMP/r_canary_tampered
    hw_dir "$dir" 3
    sign ops "$dir"
    printf '\xc2' >"$dir/x_1.57.raw"
    refused "tampered canary" "$dir" 'canary x_1.57: x_1.57.raw does not match'

    dir=$TEST_TMP/r_canary_fails
    hw_dir "$dir" 3 50 -40
    sign ops "$dir"
    refused "failing canary" "$dir" 'health check failed: canary x_2.3: output\[0\] = -?[0-9]+, expected'

    dir=$TEST_TMP/r_slow
    hw_dir "$dir" 3 0.000001
    sign ops "$dir"
    refused "latency budget" "$dir" 'latency p99 [0-9.]+ ms over 20 runs exceeds the budget 1e-06 ms'

    dir=$TEST_TMP/r_format
    hw_dir "$dir" 3
    sed -i 's/"labels": \[\],/"labels": [], "extra": 1,/' "$dir/manifest.json"
    expect_fail --grep 'unknown field "extra"' \
        kassa model sign --key "$K/ops.key" "$dir/hello_world_int8.tflite" "$dir/manifest.json"
    [ ! -e "$dir/manifest.json.sig" ] || fail "sign wrote a signature for a bad manifest"

    [ ! -e "$D/models/installed/hello_world/3" ] || fail "a refused install left version 3"
    local n
    n=$(grep -c '"ok":false' "$D/models/audit.jsonl")
    [ "$n" -ge 9 ] || fail "audit: $n refusals recorded"
}

# scores RAW: person_detect's two int8 output values on RAW into p0, p1.
scores()
{
    local out re='"values":\[(-?[0-9]+),(-?[0-9]+)\]'
    out=$(kassa --json model run "$PD/person_detect.tflite" "$1")
    [[ $out =~ $re ]] || fail "person_detect output: $out"
    p0=${BASH_REMATCH[1]}
    p1=${BASH_REMATCH[2]}
}

section_run()
{
    local q x out y
    for q in -96 -63 -34 0; do
        printf '%b' "\\x$(printf %02x $(((q + 256) % 256)))" >"$TEST_TMP/in.raw"
        out=$(kassa model run "$HW" "$TEST_TMP/in.raw")
        expect_match "run output header" '^output 0 ".*": int8 \[1,1\] scale 0.00829095[0-9]* zero_point 5$' "$out"
        y=$(sed -n 's/^dequantized: //p' <<<"$out")
        x=$(awk -v q="$q" 'BEGIN { printf "%.6f", (q + 128) * 0.024480115622282028 }')
        awk -v x="$x" -v y="$y" 'BEGIN { d = sin(x) - y; if (d < 0) d = -d; exit !(d <= 0.05) }' ||
            fail "run: input $q (x = $x): dequantized $y, sin(x) = $(awk -v x="$x" 'BEGIN { print sin(x) }')"
    done
    out=$(kassa --json model run "$HW" "$TEST_TMP/in.raw")
    expect_match "run json" '"dtype":"int8","shape":\[1,1\],"scale":0.00829[0-9]*,"zero_point":5,"values":\[-?[0-9]+\],"dequantized":\[' "$out"

    # person_detect: the upstream test's assertion, the right class wins
    local p0 p1
    scores "$PD/person_96x96_int8.raw"
    [ "$p1" -gt "$p0" ] || fail "person image: scores [$p0, $p1], person should win"
    scores "$PD/no_person_96x96_int8.raw"
    [ "$p0" -gt "$p1" ] || fail "no_person image: scores [$p0, $p1], notperson should win"

    printf '\x01\x02' >"$TEST_TMP/two.raw"
    expect_fail --grep '2 bytes, but the model.s input .* takes exactly 1 bytes' \
        kassa model run "$HW" "$TEST_TMP/two.raw"
    expect_fail --grep 'takes exactly 9216 bytes' \
        kassa model run "$PD/person_detect.tflite" "$TEST_TMP/two.raw"
    expect_fail --grep 'cannot open' kassa model run "$HW" "$TEST_TMP/missing.raw"
    expect_fail kassa model run "$TEST_TMP/two.raw" "$TEST_TMP/in.raw"
    expect_fail --usage kassa model run "$HW"
}

run_section keys section_keys
run_section "install, list, rollback" section_install_happy_path
run_section refusals section_refusals
run_section run section_run
finish
