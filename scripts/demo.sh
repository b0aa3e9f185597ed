#!/usr/bin/env bash
# `make demo`: a checkout terminal with the cashier UI.
# Creates a fresh terminal in var/demo (store BERLIN-01, node T1) with the
# demo catalog and three staff, then runs kassad in the foreground until
# Ctrl-C, which stops it cleanly (no half-written sale, database closed).
set -euo pipefail
cd "$(dirname "$0")/.."

KASSA=build/bin/kassa
KASSAD=build/bin/kassad
DATA=var/demo/T1
PORT=${KASSA_DEMO_PORT:-8080}

rm -rf var/demo
mkdir -p var/demo
k() { "$KASSA" --data "$DATA" "$@" >/dev/null; }
k init --store BERLIN-01 --node T1
k catalog import data/demo/catalog.csv
k cashier add ann --name "Ann Keller" --role cashier --pin 1111
k cashier add bob --name "Bob Brandt" --role cashier --pin 2222
k cashier add sue --name "Sue Wagner" --role supervisor --pin 9999

cat <<MSG

  kassa demo terminal: store BERLIN-01, terminal T1 ($(($(grep -c . data/demo/catalog.csv) - 1)) products)

  Open  http://127.0.0.1:$PORT/  in a browser.

  Cashiers   ann  PIN 1111    bob  PIN 2222
  Supervisor sue  PIN 9999    (approves voids, returns, price overrides)

  Scan with a barcode scanner (or type the digits and Enter) anywhere on
  the checkout screen, e.g. 4006381333931 (coffee). Ctrl-C stops.

MSG
exec "$KASSAD" --data "$DATA" --api-listen "127.0.0.1:$PORT"
