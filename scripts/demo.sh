#!/usr/bin/env bash
# `make demo`: a checkout terminal with the cashier UI, a card reader and a
# payment processor.
# Creates a fresh terminal in var/demo (store BERLIN-01, node T1) with the
# demo catalog and four staff, starts the two payment simulators
# (kassa-processor-sim on loopback, kassa-reader-sim on a Unix socket; see
# docs/PAYMENTS.md), then runs kassad in the foreground until Ctrl-C, which
# stops it cleanly (no half-written sale, database closed) and then the
# simulators.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=build/bin
KASSA=$BIN/kassa
KASSAD=$BIN/kassad
DEMO=var/demo
DATA=$DEMO/T1
PORT=${KASSA_DEMO_PORT:-8080}
PROCESSOR_PORT=${KASSA_DEMO_PROCESSOR_PORT:-8081}

rm -rf "$DEMO"
mkdir -p "$DEMO"
k() { "$KASSA" --data "$DATA" "$@" >/dev/null; }
k init --store BERLIN-01 --node T1
k catalog import data/demo/catalog.csv
k cashier add ann --name "Ann Keller" --role cashier --pin 1111
k cashier add bob --name "Bob Brandt" --role cashier --pin 2222
k cashier add sue --name "Sue Wagner" --role supervisor --pin 9999
k cashier add max --name "Max Ritter" --role manager --pin 7777

# The simulators: started here, stopped on the way out (by their PIDs).
"$BIN/kassa-processor-sim" keygen --out "$DEMO/processor-keys" >/dev/null
"$BIN/kassa-processor-sim" --listen "127.0.0.1:$PROCESSOR_PORT" --key-dir "$DEMO/processor-keys" \
    2>"$DEMO/processor.log" &
PROCESSOR_PID=$!
"$BIN/kassa-reader-sim" --socket "$DEMO/reader.sock" \
    --processor-key "$DEMO/processor-keys/processor.pub" --token-key "$DEMO/reader-token.key" \
    --card 4111111111111111 --expiry 12/30 --read-delay-ms 800 2>"$DEMO/reader.log" &
READER_PID=$!
stop_sims() { kill "$READER_PID" "$PROCESSOR_PID" 2>/dev/null || true; }
trap stop_sims EXIT

cat >"$DEMO/kassad.ini" <<INI
[payments]
reader_socket = $DEMO/reader.sock
processor = 127.0.0.1:$PROCESSOR_PORT
processor_timeout_ms = 3000
reader_timeout_ms = 30000
forward_retry_min_ms = 1000
forward_retry_max_ms = 10000
INI

cat <<MSG

  kassa demo terminal: store BERLIN-01, terminal T1 ($(($(grep -c . data/demo/catalog.csv) - 1)) products)

  Open  http://127.0.0.1:$PORT/  in a browser.

  Cashiers   ann  PIN 1111    bob  PIN 2222
  Supervisor sue  PIN 9999    (approves voids, returns, price overrides)
  Manager    max  PIN 7777    (offline card limits, the payments review list)

  Scan with a barcode scanner (or type the digits and Enter) anywhere on
  the checkout screen, e.g. 4006381333931 (coffee). Ctrl-C stops.

  Card payments: the simulated reader answers with VISA 4111 1111 1111 1111
  unless another test card is presented first (docs/PAYMENTS.md lists them):
    $BIN/kassa-reader-sim present --socket $DEMO/reader.sock 4000000000009995 12/30
  Processor simulator: http://127.0.0.1:$PROCESSOR_PORT/v1/ledger
  Take the card network away and back (offline store-and-forward):
    kill -STOP $PROCESSOR_PID      kill -CONT $PROCESSOR_PID

MSG
"$KASSAD" --config "$DEMO/kassad.ini" --data "$DATA" --api-listen "127.0.0.1:$PORT"
