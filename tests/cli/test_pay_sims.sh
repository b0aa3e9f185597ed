#!/usr/bin/env bash
# The two payment simulators end to end, without kassad: kassa-processor-sim
# (keygen, the HTTP API, test cards, idempotency, capture, reversal,
# refunds, the /control test modes) and kassa-reader-sim (reads through the
# Unix socket with tests/progs/pay_reader_client, `present` with cards and
# behaviours, busy, the default card), then a PCI check: no card number
# used here appears in either program's log, and a clean SIGTERM shutdown.
# Both daemons run on a temporary directory; the processor listens on a
# free loopback port (port 0; the bound port is read from its start line).
# Only the processes this test starts are stopped, by PID.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
RS=$KASSA_BIN/kassa-reader-sim
PS=$KASSA_BIN/kassa-processor-sim
CLIENT=$KASSA_BIN/pay_reader_client
KEYS=$TEST_TMP/keys
SOCK=$TEST_TMP/reader.sock
SOCK2=$TEST_TMP/reader2.sock
PLOG=$TEST_TMP/processor.log
RLOG=$TEST_TMP/reader.log
RLOG2=$TEST_TMP/reader2.log
STORE=s1
# Every card number this test hands to a simulator: none may be logged.
CARDS_USED=(4111111111111111 4242424242424242 5555555555554444 378282246310005
    4000000000009995 4000000000009979 4000000000000069 4000000000000119
    4111111111111112 6011111111111117)

for p in "$RS" "$PS" "$CLIENT"; do
    [ -x "$p" ] || fail "missing program $p (build first)"
done

# stop_pid PID: SIGTERM, then wait for it (only processes we started).
stop_pid()
{
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# expect_exit RC CMD...: CMD exits with RC and says something on stderr;
# no sanitizer report. $EXIT_STDERR holds its stderr.
expect_exit()
{
    _lib_check_fatal
    local want=$1 rc=0
    shift
    "$@" >"$TEST_TMP/exit.out" 2>"$TEST_TMP/exit.err" || rc=$?
    EXIT_STDERR=$(cat "$TEST_TMP/exit.err")
    _lib_check_sanitizers "$TEST_TMP/exit.err" "$*"
    [ "$rc" -eq "$want" ] || fail "$*: expected exit $want, got $rc; stderr: $EXIT_STDERR"
    [ -n "$EXIT_STDERR" ] || fail "$*: nothing on stderr"
}

# ---- processes ----

section_keygen()
{
    local out
    out=$("$PS" keygen --out "$KEYS")
    expect_contains "keygen output" "processor keys written" "$out"
    expect_eq "processor.key mode" 600 "$(stat -c %a "$KEYS/processor.key")"
    expect_eq "processor.pub mode" 644 "$(stat -c %a "$KEYS/processor.pub")"
    expect_match "public key is 64 hex digits" '^[0-9a-f]{64}$' "$(cat "$KEYS/processor.pub")"
    local before
    before=$(cat "$KEYS/processor.key" "$KEYS/processor.pub")
    expect_exit 1 "$PS" keygen --out "$KEYS"
    expect_contains "keygen refusal" "not overwritten" "$EXIT_STDERR"
    expect_eq "keys unchanged" "$before" "$(cat "$KEYS/processor.key" "$KEYS/processor.pub")"
    expect_exit 2 "$PS" keygen
    expect_exit 2 "$PS" --listen 127.0.0.1:0
    expect_exit 2 "$PS" --listen 10.0.0.1:80 --key-dir "$KEYS"
    expect_exit 2 "$RS" --socket "$SOCK"
}
section_keygen

"$PS" --listen 127.0.0.1:0 --key-dir "$KEYS" --timeout-hold-ms 1500 2>"$PLOG" &
PROC_PID=$!
on_exit "stop_pid $PROC_PID"
"$RS" --socket "$SOCK" --processor-key "$KEYS/processor.pub" --token-key "$TEST_TMP/token.key" \
    2>"$RLOG" &
READER_PID=$!
on_exit "stop_pid $READER_PID"
"$RS" --socket "$SOCK2" --processor-key "$KEYS/processor.pub" --token-key "$TEST_TMP/token.key" \
    --card 5555555555554444 --expiry 11/29 --read-delay-ms 100 2>"$RLOG2" &
READER2_PID=$!
on_exit "stop_pid $READER2_PID"

PORT=""
for _ in $(seq 1 200); do
    PORT=$(grep -o '"event":"start".*"port":[0-9]*' "$PLOG" 2>/dev/null | grep -o '[0-9]*$' || true)
    if [ -n "$PORT" ] && [ -S "$SOCK" ] && [ -S "$SOCK2" ]; then break; fi
    sleep 0.05
done
[ -n "$PORT" ] || fail "the processor did not start: $(cat "$PLOG")"
[ -S "$SOCK" ] && [ -S "$SOCK2" ] || fail "the readers did not start: $(cat "$RLOG" "$RLOG2")"
BASE=http://127.0.0.1:$PORT
note "processor on port $PORT"

# ---- helpers ----

# http METHOD PATH [BODY [CONTENT_TYPE]]: sets HTTP_CODE and HTTP_BODY.
http()
{
    local method=$1 path=$2 body=${3-} ctype=${4:-application/json}
    local args=(-s -o "$TEST_TMP/http.body" -w '%{http_code}' -X "$method" --max-time 10)
    if [ -n "$body" ]; then
        args+=(-H "Content-Type: $ctype" --data-binary "$body")
    fi
    HTTP_CODE=$(curl "${args[@]}" "$BASE$path") || HTTP_CODE=curl-failed
    HTTP_BODY=$(cat "$TEST_TMP/http.body" 2>/dev/null || true)
}

present() { "$RS" present --socket "$SOCK" "$@"; }

# read_card ID AMOUNT [TIMEOUT_MS]: one read; the reply line in $READ_LINE.
read_card()
{
    READ_LINE=$("$CLIENT" "$SOCK" "$@")
}

auth_body()
{
    local id=$1 amount=$2 token=$3 blob=$4 capture=${5:-true}
    printf '{"v":1,"store_id":"%s","payment_id":"%s","amount_minor":%s,"currency":"EUR",' \
        "$STORE" "$id" "$amount"
    printf '"token":"%s","blob":"%s","mode":"online","capture":%s,"stored_at_ms":0}' \
        "$token" "$blob" "$capture"
}

# pay ID AMOUNT CARD EXPIRY [CAPTURE]: present, read, authorise. Sets
# READ_LINE, TOKEN, BLOB, HTTP_CODE, HTTP_BODY.
pay()
{
    present "$3" "$4"
    read_card "$1" "$2"
    expect_contains "read of $1" '"type":"card"' "$READ_LINE"
    TOKEN=$(json_field token <<<"$READ_LINE")
    BLOB=$(json_field blob <<<"$READ_LINE")
    http POST /v1/payments "$(auth_body "$1" "$2" "$TOKEN" "$BLOB" "${5:-true}")"
}

ledger_field() { http GET /v1/ledger && json_field "$1" <<<"$HTTP_BODY"; }

# ---- sections ----

section_read_and_pay()
{
    present 4111111111111111 12/30
    read_card p-1 1250
    expect_contains "card reply" '"type":"card"' "$READ_LINE"
    expect_eq "payment id" p-1 "$(json_field payment_id <<<"$READ_LINE")"
    expect_eq "last4" 1111 "$(json_field last4 <<<"$READ_LINE")"
    expect_eq "brand" visa "$(json_field brand <<<"$READ_LINE")"
    expect_eq "exp_month" 12 "$(json_field exp_month <<<"$READ_LINE")"
    expect_eq "exp_year" 2030 "$(json_field exp_year <<<"$READ_LINE")"
    expect_match "token" '^tok_[0-9a-f]{32}$' "$(json_field token <<<"$READ_LINE")"
    expect_match "blob" '^[A-Za-z0-9+/]{100,}=*$' "$(json_field blob <<<"$READ_LINE")"
    expect_no_contains "the reply carries no card number" 4111111111111111 "$READ_LINE"
    local token blob
    token=$(json_field token <<<"$READ_LINE")
    blob=$(json_field blob <<<"$READ_LINE")

    http POST /v1/payments "$(auth_body p-1 1250 "$token" "$blob")"
    expect_eq "approve status" 200 "$HTTP_CODE"
    expect_eq "approve" captured "$(json_field status <<<"$HTTP_BODY")"
    local code
    code=$(json_field auth_code <<<"$HTTP_BODY")
    expect_match "auth code" '^[A-Z0-9]{6}$' "$code"
    # The same payment again: the same answer, no second capture.
    http POST /v1/payments "$(auth_body p-1 1250 "$token" "$blob")"
    expect_eq "repeat status" 200 "$HTTP_CODE"
    expect_eq "repeat auth code" "$code" "$(json_field auth_code <<<"$HTTP_BODY")"
    http GET "/v1/payments/p-1?store=$STORE"
    expect_eq "captures after repeat" 1 "$(json_field captures <<<"$HTTP_BODY")"
    expect_eq "captured amount" 1250 "$(json_field captured_minor <<<"$HTTP_BODY")"
    expect_eq "ledger captures" 1 "$(ledger_field captures)"
    expect_eq "ledger captured" 1250 "$(ledger_field captured_minor)"
    # The same id with another amount is a conflict, not a new charge.
    http POST /v1/payments "$(auth_body p-1 999 "$token" "$blob")"
    expect_eq "reused id" 409 "$HTTP_CODE"
    expect_contains "reused id message" "payment id reused with different details" "$HTTP_BODY"
    # The same card reads to the same token.
    present 4111111111111111 12/30
    read_card p-1b 100
    expect_eq "same card, same token" "$token" "$(json_field token <<<"$READ_LINE")"
    # A blob is bound to its payment: reused for another id it is refused.
    http POST /v1/payments "$(auth_body p-1c 1250 "$token" "$blob")"
    expect_eq "blob for another payment" declined "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "blob for another payment reason" invalid_card \
        "$(json_field reason <<<"$HTTP_BODY")"

    # Authorise only, then capture by repeating with capture=true: one
    # capture; the capture endpoint after that moves nothing.
    pay p-2 700 378282246310005 01/31 false
    expect_eq "authorize only" authorized "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "amex brand" amex "$(json_field brand <<<"$READ_LINE")"
    http POST /v1/payments "$(auth_body p-2 700 "$TOKEN" "$BLOB" true)"
    expect_eq "capture on repeat" captured "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/p-2/capture?store=$STORE"
    expect_eq "capture again" captured "$(json_field status <<<"$HTTP_BODY")"
    http GET "/v1/payments/p-2?store=$STORE"
    expect_eq "p-2 captures" 1 "$(json_field captures <<<"$HTTP_BODY")"
    # Capture through the endpoint.
    pay p-3 300 5555555555554444 02/31 false
    expect_eq "mastercard authorized" authorized "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/p-3/capture?store=$STORE"
    expect_eq "capture endpoint" captured "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/nope/capture?store=$STORE"
    expect_eq "capture unknown" 404 "$HTTP_CODE"
    expect_eq "ledger captures" 3 "$(ledger_field captures)"
    expect_eq "no double capture" 0 "$(ledger_field double_captures)"
}

section_declines()
{
    local card reason
    for pair in 4000000000009995:insufficient_funds 4000000000009979:stolen_card \
        4000000000000069:expired_card; do
        card=${pair%%:*}
        reason=${pair#*:}
        pay "d-$reason" 500 "$card" 12/30
        expect_eq "$reason status" 200 "$HTTP_CODE"
        expect_eq "$reason declined" declined "$(json_field status <<<"$HTTP_BODY")"
        expect_eq "$reason reason" "$reason" "$(json_field reason <<<"$HTTP_BODY")"
    done
    # An expired card is read (the reader does not refuse it) and declined
    # by the processor from its own expiry.
    pay d-old 500 4242424242424242 01/20
    expect_eq "old card exp_year" 2020 "$(json_field exp_year <<<"$READ_LINE")"
    expect_eq "old card declined" expired_card "$(json_field reason <<<"$HTTP_BODY")"
    # Any other Luhn-valid card is approved.
    pay d-other 500 6011111111111117 12/30
    expect_eq "discover approved" captured "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "discover brand" discover "$(json_field brand <<<"$READ_LINE")"
    http POST "/v1/payments/d-stolen_card/capture?store=$STORE"
    expect_eq "capture a decline" 409 "$HTTP_CODE"
}

section_network_timeout()
{
    present 4000000000000119 12/30
    read_card t-1 800
    local token blob rc=0 t0 t1
    token=$(json_field token <<<"$READ_LINE")
    blob=$(json_field blob <<<"$READ_LINE")
    # The processor records the payment but holds its answer (1.5 s here):
    # the client gives up first.
    curl -s -o /dev/null --max-time 0.5 -H 'Content-Type: application/json' \
        --data-binary "$(auth_body t-1 800 "$token" "$blob")" "$BASE/v1/payments" || rc=$?
    expect_eq "held answer times out (curl exit)" 28 "$rc"
    t0=$(date +%s%N)
    http POST /v1/payments "$(auth_body t-1 800 "$token" "$blob")"
    t1=$(date +%s%N)
    expect_eq "repeat answers" captured "$(json_field status <<<"$HTTP_BODY")"
    [ $(((t1 - t0) / 1000000)) -lt 1000 ] || fail "the repeat was held too"
    http GET "/v1/payments/t-1?store=$STORE"
    expect_eq "one capture" 1 "$(json_field captures <<<"$HTTP_BODY")"
}

section_reverse()
{
    # Reversed before it arrived: the late authorisation is declined.
    http POST "/v1/payments/late-1/reverse?store=$STORE"
    expect_eq "reverse unknown" 200 "$HTTP_CODE"
    expect_eq "tombstone" reversed "$(json_field status <<<"$HTTP_BODY")"
    pay late-1 400 4242424242424242 12/30
    expect_eq "late auth" declined "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "late auth reason" reversed "$(json_field reason <<<"$HTTP_BODY")"
    # An authorisation is released by a reversal, and stays reversed.
    pay rev-1 400 4242424242424242 12/30 false
    expect_eq "rev-1 authorized" authorized "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/rev-1/reverse?store=$STORE"
    expect_eq "reverse authorized" reversed "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/rev-1/reverse?store=$STORE"
    expect_eq "reverse again" reversed "$(json_field status <<<"$HTTP_BODY")"
    http POST "/v1/payments/rev-1/capture?store=$STORE"
    expect_eq "capture reversed" 409 "$HTTP_CODE"
    # Captured money is refunded, not reversed.
    http POST "/v1/payments/p-1/reverse?store=$STORE"
    expect_eq "reverse captured" 409 "$HTTP_CODE"
    http POST "/v1/payments/rev-1/reverse"
    expect_eq "reverse without store" 400 "$HTTP_CODE"
}

refund_body()
{
    printf '{"v":1,"store_id":"%s","refund_id":"%s","payment_id":"%s","token":"%s","amount_minor":%s}' \
        "$STORE" "$1" "$2" "$3" "$4"
}

section_refunds()
{
    pay rf-1 1000 4111111111111111 12/30
    expect_eq "rf-1 captured" captured "$(json_field status <<<"$HTTP_BODY")"
    local token=$TOKEN before
    before=$(ledger_field refunded_minor)
    http POST /v1/refunds "$(refund_body r-1 rf-1 "$token" 600)"
    expect_eq "refund" refunded "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "refund id" r-1 "$(json_field id <<<"$HTTP_BODY")"
    http POST /v1/refunds "$(refund_body r-1 rf-1 "$token" 600)"
    expect_eq "refund repeat" refunded "$(json_field status <<<"$HTTP_BODY")"
    http POST /v1/refunds "$(refund_body r-2 rf-1 "$token" 500)"
    expect_eq "refund over captured" declined "$(json_field status <<<"$HTTP_BODY")"
    expect_eq "refund over captured reason" exceeds_captured "$(json_field reason <<<"$HTTP_BODY")"
    http POST /v1/refunds "$(refund_body r-3 rf-1 "$token" 400)"
    expect_eq "refund the rest" refunded "$(json_field status <<<"$HTTP_BODY")"
    http POST /v1/refunds "$(refund_body r-4 rf-1 tok_someoneelse 1)"
    expect_eq "refund with another token" token_mismatch "$(json_field reason <<<"$HTTP_BODY")"
    http POST /v1/refunds "$(refund_body r-1 rf-1 "$token" 601)"
    expect_eq "refund id reused" 409 "$HTTP_CODE"
    http POST /v1/refunds "$(refund_body r-5 nope "$token" 1)"
    expect_eq "refund unknown payment" 404 "$HTTP_CODE"
    http GET "/v1/payments/rf-1?store=$STORE"
    expect_eq "refunded amount" 1000 "$(json_field refunded_minor <<<"$HTTP_BODY")"
    expect_eq "ledger refunded" $((before + 1000)) "$(ledger_field refunded_minor)"
}

section_control_modes()
{
    http POST /control '{"mode":"error500"}'
    expect_eq "control error500" 200 "$HTTP_CODE"
    http GET /v1/ledger
    expect_eq "error500 mode" 500 "$HTTP_CODE"
    expect_contains "error500 body" '"error"' "$HTTP_BODY"
    http POST /control '{"mode":"garbage"}'
    http GET /v1/ledger
    expect_eq "garbage mode status" 200 "$HTTP_CODE"
    [ "${HTTP_BODY:0:1}" != "{" ] || fail "garbage mode answered JSON: $HTTP_BODY"
    http POST /control '{"mode":"hang"}'
    local rc=0
    curl -s -o /dev/null --max-time 0.5 "$BASE/v1/ledger" || rc=$?
    expect_eq "hang mode (curl exit)" 28 "$rc"
    http POST /control '{"mode":"normal"}'
    expect_eq "back to normal" normal "$(json_field mode <<<"$HTTP_BODY")"
    http GET /v1/ledger
    expect_eq "normal mode" 200 "$HTTP_CODE"
    http POST /control '{"mode":"sideways"}'
    expect_eq "unknown mode" 400 "$HTTP_CODE"
}

section_bad_http()
{
    http POST /v1/payments '{"v":1}' text/plain
    expect_eq "wrong content type" 400 "$HTTP_CODE"
    http POST /v1/payments 'not json'
    expect_eq "not JSON" 400 "$HTTP_CODE"
    expect_contains "error shape" '"error":' "$HTTP_BODY"
    http POST /v1/payments "{\"v\":1,\"pad\":\"$(head -c 9000 /dev/zero | tr '\0' a)\"}"
    expect_eq "body too large" 413 "$HTTP_CODE"
    http GET /v1/nothing
    expect_eq "unknown route" 404 "$HTTP_CODE"
    http GET /v1/payments
    expect_eq "wrong method" 405 "$HTTP_CODE"
    http GET "/v1/payments/bad%20id?store=$STORE"
    expect_eq "bad id in path" 400 "$HTTP_CODE"
}

section_reader_behaviours()
{
    # A Luhn-invalid number is "unreadable", and never echoed.
    present 4111111111111112 12/30
    read_card u-1 100
    expect_eq "unreadable" unreadable "$(json_field reason <<<"$READ_LINE")"
    expect_contains "unreadable message" "failed its check digit" "$READ_LINE"
    expect_no_contains "no echo" 4111111111111112 "$READ_LINE"
    present 4111x11111111111 12/30
    read_card u-2 100
    expect_eq "non-digit number" unreadable "$(json_field reason <<<"$READ_LINE")"
    # Behaviours.
    present --remove
    read_card b-1 100
    expect_eq "remove" cancelled "$(json_field reason <<<"$READ_LINE")"
    present --timeout
    local t0 t1
    t0=$(date +%s%N)
    read_card b-2 100 300
    t1=$(date +%s%N)
    expect_eq "timeout behaviour" timeout "$(json_field reason <<<"$READ_LINE")"
    [ $(((t1 - t0) / 1000000)) -ge 250 ] || fail "timeout answered before timeout_ms"
    present --disconnect
    local rc=0
    "$CLIENT" "$SOCK" b-3 100 >/dev/null 2>&1 || rc=$?
    expect_eq "disconnect (client exit)" 3 "$rc"
    # Nothing queued and no default card: the read times out.
    read_card b-4 100 200
    expect_eq "no card" timeout "$(json_field reason <<<"$READ_LINE")"
    # One read at a time: a second one is "busy"; a present reaches the
    # waiting read.
    "$CLIENT" "$SOCK" b-5 100 4000 >"$TEST_TMP/first.out" 2>"$TEST_TMP/first.err" &
    local first=$!
    sleep 0.5
    read_card b-6 100 1000
    expect_eq "busy" busy "$(json_field reason <<<"$READ_LINE")"
    present 4242424242424242 12/30
    wait "$first" || fail "first read failed: $(cat "$TEST_TMP/first.err")"
    expect_eq "waiting read got the card" 4242 "$(json_field last4 <<<"$(cat "$TEST_TMP/first.out")")"
    # Bad presents are refused by the command itself.
    expect_exit 2 "$RS" present --socket "$SOCK" 4111111111111111 13/30
    expect_exit 2 "$RS" present --socket "$SOCK" 4111111111111111
    expect_exit 2 "$RS" present --socket "$SOCK" --timeout --remove
    expect_exit 1 "$RS" present --socket "$TEST_TMP/nothing.sock" --remove
    # A second daemon on a live socket refuses to take it over.
    expect_exit 1 "$RS" --socket "$SOCK" --processor-key "$KEYS/processor.pub" \
        --token-key "$TEST_TMP/token.key"
    expect_contains "live socket" "another reader is listening" "$EXIT_STDERR"
    expect_eq "socket mode" 600 "$(stat -c %a "$SOCK")"
    expect_eq "token key mode" 600 "$(stat -c %a "$TEST_TMP/token.key")"
}

section_default_card()
{
    local line
    line=$("$CLIENT" "$SOCK2" dc-1 250)
    expect_eq "default card" 4444 "$(json_field last4 <<<"$line")"
    expect_eq "default card brand" mastercard "$(json_field brand <<<"$line")"
    expect_eq "default card year" 2029 "$(json_field exp_year <<<"$line")"
    # A read delay longer than the terminal waits: timeout.
    line=$("$CLIENT" "$SOCK2" dc-2 250 50)
    expect_eq "delay past the timeout" timeout "$(json_field reason <<<"$line")"
    # The number given with --card was wiped from the command line.
    expect_no_contains "argv wiped" 5555555555554444 "$(tr '\0' ' ' </proc/$READER2_PID/cmdline)"
}

section_logs_hold_no_card_numbers()
{
    local f card
    for f in "$PLOG" "$RLOG" "$RLOG2"; do
        [ -s "$f" ] || fail "empty log $f"
        for card in "${CARDS_USED[@]}"; do
            if grep -qF -- "$card" "$f"; then
                fail "card number found in $(basename "$f")"
            fi
        done
        if grep -q '"blob"' "$f"; then
            fail "a blob in $(basename "$f")"
        fi
    done
    expect_match "one line per read" '"event":"read".*"last4":"1111","outcome":"card"' "$(cat "$RLOG")"
    expect_match "request log" '"event":"request".*"payment_id":"p-1".*"status":"captured"' \
        "$(cat "$PLOG")"
}

section_shutdown()
{
    local pid rc
    for pid in "$PROC_PID" "$READER_PID" "$READER2_PID"; do
        kill -TERM "$pid"
        rc=0
        wait "$pid" || rc=$?
        expect_eq "exit status after SIGTERM ($pid)" 0 "$rc"
    done
    [ ! -e "$SOCK" ] || fail "the reader left its socket behind"
    for f in "$PLOG" "$RLOG" "$RLOG2"; do
        _lib_check_sanitizers "$f" "$(basename "$f")"
    done
    expect_contains "processor stop line" '"event":"stop"' "$(cat "$PLOG")"
}

run_section "read a card and pay it" section_read_and_pay
run_section "decline cards" section_declines
run_section "network timeout card" section_network_timeout
run_section "reversals" section_reverse
run_section "refunds" section_refunds
run_section "control modes" section_control_modes
run_section "bad HTTP input" section_bad_http
run_section "reader behaviours" section_reader_behaviours
run_section "default card" section_default_card
run_section "logs hold no card numbers" section_logs_hold_no_card_numbers
section_shutdown
finish
