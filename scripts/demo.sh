#!/usr/bin/env bash
# `make demo`: a store of three checkout terminals and its head office, all
# on loopback (issue 7).
#
# Creates everything fresh in var/demo:
#   ca/             the company CA (kassa ca init); ca/ca.crt verifies the cloud
#   pg/             a throwaway PostgreSQL 15 cluster (scripts/pg-cluster.sh),
#                   database `kassa`
#   cloud-tls/      kassa-cloud's certificate (store CLOUD, node cloud-1)
#   admin.token     kassa-cloud's random admin token (mode 0600)
#   cloud.log       kassa-cloud's log
#   T1/ T2/ T3/     the terminals' data directories (store BERLIN-01)
#   tls/TN/         each terminal's device certificate
#   TN.ini TN.log   each kassad's config and log
#   processor-keys/ processor.log reader.sock reader.log reader-token.key
#                   the payment simulators (docs/PAYMENTS.md), for T1 only
# The demo catalog and the staff are set up on T1 only: they are operations,
# and replication brings them to T2 and T3 within a second of the start.
# The three terminals link over TLS (static peers, roster T1 T2 T3), elect a
# leader with Raft, and the leader uploads the store's operations to
# kassa-cloud every KASSA_DEMO_UPLOAD_INTERVAL_S seconds (default 10, so
# that a sale shows at head office quickly; 900 in production) and applies
# head office's changes (prices, catalog) for the whole store.
#
# Runs in the foreground until Ctrl-C (or SIGTERM), which stops every
# process the script started, by its PID: the three kassad (cleanly: no
# half-written sale), then kassa-cloud and the simulators, then the
# PostgreSQL cluster. If anything fails to start, or one of them exits on
# its own, the same happens and the script exits non-zero with the end of
# that process's log.
#
# Ports (all on 127.0.0.1), overridable from the environment:
#   KASSA_DEMO_PORT (8080), KASSA_DEMO_T2_PORT (8082), KASSA_DEMO_T3_PORT
#   (8083): the terminals' API and UI; KASSA_DEMO_PEER_PORT (8101): T1's
#   peer link, T2 and T3 take the next two; KASSA_DEMO_CLOUD_PORT (8090);
#   KASSA_DEMO_PROCESSOR_PORT (8081). PostgreSQL picks a free port.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bin
KASSA=$BIN/kassa
KASSAD=$BIN/kassad
CLOUD=$BIN/kassa-cloud
DEMO=var/demo
STORE=BERLIN-01
NODES=(T1 T2 T3)
API_PORTS=("${KASSA_DEMO_PORT:-8080}" "${KASSA_DEMO_T2_PORT:-8082}" "${KASSA_DEMO_T3_PORT:-8083}")
PEER_PORT=${KASSA_DEMO_PEER_PORT:-8101}
PEER_PORTS=("$PEER_PORT" $((PEER_PORT + 1)) $((PEER_PORT + 2)))
CLOUD_PORT=${KASSA_DEMO_CLOUD_PORT:-8090}
PROCESSOR_PORT=${KASSA_DEMO_PROCESSOR_PORT:-8081}
UPLOAD_S=${KASSA_DEMO_UPLOAD_INTERVAL_S:-10}
PSQL=/usr/lib/postgresql/15/bin/psql
[ -x "$PSQL" ] || PSQL=psql

for p in "${API_PORTS[@]}" "${PEER_PORTS[@]}" "$CLOUD_PORT" "$PROCESSOR_PORT" "$UPLOAD_S"; do
    [[ $p =~ ^[0-9]+$ ]] || { echo "demo: not a number: $p" >&2; exit 2; }
done
for b in "$KASSA" "$KASSAD" "$CLOUD" "$BIN/kassa-processor-sim" "$BIN/kassa-reader-sim"; do
    [ -x "$b" ] || { echo "demo: no $b: run make demo (it builds)" >&2; exit 1; }
done
command -v curl >/dev/null || { echo "demo: curl is missing (scripts/deps.sh installs it)" >&2; exit 1; }

# ---- processes: started in their own session (so that Ctrl-C reaches only
# this script, which stops them in order), stopped by PID ----

PIDS=()           # every long-running process started, in start order
declare -A NAME   # PID -> name
declare -A LOG    # PID -> its log file
PG_STARTED=0

# start NAME LOGFILE CMD...: CMD in the background, output to LOGFILE.
start()
{
    local name=$1 log=$2
    shift 2
    setsid "$@" </dev/null >"$log" 2>&1 &
    PIDS+=("$!")
    NAME[$!]=$name
    LOG[$!]=$log
}

# alive PID: PID has not exited (an exited child of ours stays a zombie
# until it is waited for).
alive()
{
    local stat
    stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    stat=${stat##*) }
    [ "${stat%% *}" != Z ]
}

log_tail()
{
    echo "demo: last lines of $2:" >&2
    tail -n "${3:-25}" "$2" 2>/dev/null | sed 's/^/    /' >&2 || true
}

# stop_pids SECONDS PID...: SIGTERM, then SIGKILL for those still running
# after SECONDS; every one is waited for.
# shellcheck disable=SC2317 # called from the EXIT trap
stop_pids()
{
    local secs=$1 pid i
    shift
    for pid in "$@"; do
        if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; fi
    done
    for ((i = 0; i < secs * 10; i++)); do
        local any=0
        for pid in "$@"; do alive "$pid" && any=1; done
        [ "$any" -eq 0 ] && break
        sleep 0.1
    done
    for pid in "$@"; do
        if alive "$pid"; then
            echo "demo: ${NAME[$pid]} (pid $pid) did not stop in ${secs} s: killing it" >&2
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup()
{
    local rc=$?
    trap '' INT TERM
    set +e
    if [ "${#PIDS[@]}" -gt 0 ] || [ "$PG_STARTED" -eq 1 ]; then
        echo "demo: stopping..." >&2
    fi
    # The terminals first (they talk to the cloud and the processor), then
    # the rest, then the database.
    local kassads=() others=() pid
    for pid in "${PIDS[@]}"; do
        case ${NAME[$pid]} in kassad*) kassads+=("$pid") ;; *) others+=("$pid") ;; esac
    done
    [ "${#kassads[@]}" -eq 0 ] || stop_pids 10 "${kassads[@]}"
    [ "${#others[@]}" -eq 0 ] || stop_pids 5 "${others[@]}"
    if [ "$PG_STARTED" -eq 1 ]; then
        bash scripts/pg-cluster.sh stop "$DEMO/pg" || rc=1
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# fail PID MESSAGE: that process's log tail, then exit 1 (cleanup stops the rest).
fail()
{
    echo "demo: $2" >&2
    log_tail "${NAME[$1]}" "${LOG[$1]}"
    exit 1
}

# wait_up PID URL [CURL-ARGS...]: until URL answers 200 (30 s at most).
wait_up()
{
    local pid=$1 url=$2 i
    shift 2
    for ((i = 0; i < 300; i++)); do
        alive "$pid" || fail "$pid" "${NAME[$pid]} exited during its start"
        curl -fsS -o /dev/null --max-time 1 "$@" "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "$pid" "${NAME[$pid]} did not answer $url within 30 s"
}

# ---- a fresh var/demo ----

# A cluster left running by a demo that was killed (SIGKILL) is stopped
# first (pg-cluster.sh only ever signals the server of that directory).
bash scripts/pg-cluster.sh stop "$DEMO/pg" >/dev/null 2>&1 || true
rm -rf "$DEMO"
mkdir -p var
# Run as root, the cluster runs as the postgres user, which must be able to
# reach var/demo/pg: var and var/demo searchable by others.
chmod go+x var
mkdir -m 0711 "$DEMO"

k() { "$KASSA" "$@" >/dev/null; }
k ca init --dir "$DEMO/ca"
k ca issue --dir "$DEMO/ca" --store CLOUD --node cloud-1 --out "$DEMO/cloud-tls"
mkdir "$DEMO/tls"
for n in "${NODES[@]}"; do
    k ca issue --dir "$DEMO/ca" --store "$STORE" --node "$n" --out "$DEMO/tls/$n"
    k --data "$DEMO/$n" init --store "$STORE" --node "$n"
    # Each terminal trusts head office's model key and installs the signed
    # models (signature, checksums, canaries, latency checked): product
    # recognition and fraud scoring.
    k --data "$DEMO/$n" model trust models/headoffice.pub
    k --data "$DEMO/$n" model install models/product
    k --data "$DEMO/$n" model install models/fraud
done
# Catalog and staff on T1 only: replication brings them to T2 and T3.
k --data "$DEMO/T1" catalog import data/demo/catalog.csv
k --data "$DEMO/T1" cashier add ann --name "Ann Keller" --role cashier --pin 1111
k --data "$DEMO/T1" cashier add bob --name "Bob Brandt" --role cashier --pin 2222
k --data "$DEMO/T1" cashier add sue --name "Sue Wagner" --role supervisor --pin 9999
k --data "$DEMO/T1" cashier add max --name "Max Ritter" --role manager --pin 7777

(umask 077 && od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$DEMO/admin.token")
TOKEN_FILE=$DEMO/admin.token

# ---- PostgreSQL and kassa-cloud ----

PG_STARTED=1
if ! PG_CONNINFO=$(bash scripts/pg-cluster.sh start "$DEMO/pg"); then
    echo "demo: the PostgreSQL cluster did not start (above: why)" >&2
    exit 1
fi
if ! out=$("$PSQL" -X -q -d "$PG_CONNINFO" -c "CREATE DATABASE kassa" 2>&1); then
    echo "demo: CREATE DATABASE kassa failed: $out" >&2
    exit 1
fi
PG_CONNINFO=${PG_CONNINFO/dbname=postgres/dbname=kassa}

# The cloud's certificate names urn:kassa:store:CLOUD:node:cloud-1 and has
# the common name cloud-1.CLOUD, not 127.0.0.1: curl checks it against the
# CA when told that cloud-1.CLOUD is 127.0.0.1.
CLOUD_HOST=cloud-1.CLOUD
CLOUD_CURL=(--cacert "$DEMO/ca/ca.crt" --resolve "$CLOUD_HOST:$CLOUD_PORT:127.0.0.1")
CLOUD_URL=https://$CLOUD_HOST:$CLOUD_PORT

start kassa-cloud "$DEMO/cloud.log" "$CLOUD" --listen "127.0.0.1:$CLOUD_PORT" --pg "$PG_CONNINFO" \
    --tls-dir "$DEMO/cloud-tls" --ca-cert "$DEMO/ca/ca.crt" --crl "$DEMO/ca/crl.pem" \
    --admin-token-file "$TOKEN_FILE"
CLOUD_PID=$!
wait_up "$CLOUD_PID" "$CLOUD_URL/healthz" "${CLOUD_CURL[@]}"

# ---- the payment simulators (T1's card reader and the processor) ----

"$BIN/kassa-processor-sim" keygen --out "$DEMO/processor-keys" >/dev/null
start kassa-processor-sim "$DEMO/processor.log" \
    "$BIN/kassa-processor-sim" --listen "127.0.0.1:$PROCESSOR_PORT" --key-dir "$DEMO/processor-keys"
PROCESSOR_PID=$!
start kassa-reader-sim "$DEMO/reader.log" \
    "$BIN/kassa-reader-sim" --socket "$DEMO/reader.sock" \
    --processor-key "$DEMO/processor-keys/processor.pub" --token-key "$DEMO/reader-token.key" \
    --card 4111111111111111 --expiry 12/30 --read-delay-ms 800
READER_PID=$!

# ---- the three terminals ----

peers=$(printf '127.0.0.1:%s, ' "${PEER_PORTS[@]}")
peers=${peers%, }
for i in 0 1 2; do
    n=${NODES[$i]}
    {
        cat <<INI
[terminal]
data_dir = $DEMO/$n

[api]
listen = 127.0.0.1:${API_PORTS[$i]}

[peer]
listen = 127.0.0.1:${PEER_PORTS[$i]}
cert_dir = $DEMO/tls/$n
roster = ${NODES[*]}
peers = $peers

[voice]
synonyms = $PWD/data/demo/voice_synonyms.csv

[cloud]
url = 127.0.0.1:$CLOUD_PORT
upload_interval_s = $UPLOAD_S
probe_min_ms = 500
probe_max_ms = 10000
INI
        if [ "$n" = T1 ]; then
            cat <<INI

[payments]
reader_socket = $DEMO/reader.sock
processor = 127.0.0.1:$PROCESSOR_PORT
processor_timeout_ms = 3000
reader_timeout_ms = 30000
forward_retry_min_ms = 1000
forward_retry_max_ms = 10000
INI
        fi
    } >"$DEMO/$n.ini"
done

declare -A KASSAD_PID
for i in 0 1 2; do
    n=${NODES[$i]}
    start "kassad $n" "$DEMO/$n.log" "$KASSAD" --config "$DEMO/$n.ini"
    KASSAD_PID[$n]=$!
done
for i in 0 1 2; do
    wait_up "${KASSAD_PID[${NODES[$i]}]}" "http://127.0.0.1:${API_PORTS[$i]}/healthz"
done
alive "$PROCESSOR_PID" || fail "$PROCESSOR_PID" "the processor simulator exited"
alive "$READER_PID" || fail "$READER_PID" "the card reader simulator exited"

# The staff reach T2 and T3 by replication: wait for them (their login
# screens list the cashiers).
for i in 1 2; do
    n=${NODES[$i]}
    for ((t = 0; ; t++)); do
        curl -fsS --max-time 1 "http://127.0.0.1:${API_PORTS[$i]}/api/v1/cashiers" 2>/dev/null |
            grep -q '"max"' && break
        [ "$t" -lt 300 ] || fail "${KASSAD_PID[$n]}" "$n got no staff from T1 by replication within 30 s"
        sleep 0.1
    done
done

cat <<MSG

  kassa demo: store $STORE, terminals T1 T2 T3 ($(($(grep -c . data/demo/catalog.csv) - 1)) products), head office on PostgreSQL

  Terminals (cashier UI and API), linked over TLS on 127.0.0.1:${PEER_PORTS[0]}-${PEER_PORTS[2]}:
    T1  http://127.0.0.1:${API_PORTS[0]}/   (card reader and processor simulators)
    T2  http://127.0.0.1:${API_PORTS[1]}/
    T3  http://127.0.0.1:${API_PORTS[2]}/
  Sales on any of them reach the others at once, and kassa-cloud within
  ${UPLOAD_S} s (the store's Raft leader uploads).

  Cashiers   ann  PIN 1111    bob  PIN 2222
  Supervisor sue  PIN 9999    (approves voids, returns, price overrides)
  Manager    max  PIN 7777    (offline card limits, the payments review list)

  Scan with a barcode scanner (or type the digits and Enter) anywhere on
  the checkout screen, e.g. 4006381333931 (coffee). Ctrl-C stops everything.

  Product recognition (every terminal, offline, the signed model of
  models/product): the UI's "Camera" button sends a photo; or
    TOKEN=\$(curl -s -X POST -d '{"cashier_id":"ann","pin":"1111"}' http://127.0.0.1:${API_PORTS[0]}/api/v1/sessions | sed 's/.*"token":"\([^"]*\)".*/\1/')
    curl -s -H "Authorization: Bearer \$TOKEN" --data-binary @tests/fixtures/products/APL-1K_50014000.png \\
      http://127.0.0.1:${API_PORTS[0]}/api/v1/recognize
  or from the shell: $KASSA recognize tests/fixtures/products/APL-1K_50014000.png --model models/product

  Voice ordering (every terminal): hold "Talk" in the UI and say "two
  coffees and a muffin"; the proposal is applied when the cashier confirms.
  From a shell: espeak-ng -v en-us -w /tmp/o.wav "two coffees and a muffin" &&
    sox /tmp/o.wav -r 16000 -c 1 -b 16 /tmp/o16.wav && $KASSA --data $DEMO/T1 voice /tmp/o16.wav \\
      --synonyms data/demo/voice_synonyms.csv

  Card payments (T1): the simulated reader answers with VISA 4111 1111 1111 1111
  unless another test card is presented first (docs/PAYMENTS.md lists them):
    $BIN/kassa-reader-sim present --socket $DEMO/reader.sock 4000000000009995 12/30
  Processor simulator: http://127.0.0.1:$PROCESSOR_PORT/v1/ledger
  Take the card network away and back (offline store-and-forward):
    kill -STOP $PROCESSOR_PID      kill -CONT $PROCESSOR_PID

  Head office: kassa-cloud  https://127.0.0.1:$CLOUD_PORT  (docs/CLOUD.md)
  Its certificate is named $CLOUD_HOST and issued by $DEMO/ca/ca.crt; the
  admin token is in $TOKEN_FILE. The store as head office sees it:
    curl --cacert $DEMO/ca/ca.crt --resolve $CLOUD_HOST:$CLOUD_PORT:127.0.0.1 \\
      -H "Authorization: Bearer \$(cat $TOKEN_FILE)" $CLOUD_URL/v1/admin/stores/$STORE/sales
  (or .../stock, .../review). A new price for the store, sent down to every terminal:
    curl --cacert $DEMO/ca/ca.crt --resolve $CLOUD_HOST:$CLOUD_PORT:127.0.0.1 \\
      -H "Authorization: Bearer \$(cat $TOKEN_FILE)" -X PUT -d '{"price_minor":599}' \\
      $CLOUD_URL/v1/admin/stores/$STORE/prices/COF-250
  PostgreSQL: $PSQL "$PG_CONNINFO"

  Logs: $DEMO/T1.log $DEMO/T2.log $DEMO/T3.log $DEMO/cloud.log

MSG

# Until Ctrl-C (the INT trap exits, and cleanup stops everything), or until
# one of them exits on its own.
set +e
wait -n -p gone "${PIDS[@]}"
set -e
fail "$gone" "${NAME[$gone]} (pid $gone) exited on its own"
