#!/usr/bin/env bash
# `make demo-cli`: one terminal's day, scripted through the kassa CLI.
# Opens a fresh terminal in var/demo-cli, imports the demo catalog, sells,
# voids, takes a return, receives and counts stock, then prints the
# receipts, the stock, the drawer and the checks. A second terminal of the
# same store then catches up by export file, as a store with no LAN would.
set -euo pipefail
cd "$(dirname "$0")/.."

KASSA=build/bin/kassa
DATA=var/demo-cli/T1
DATA2=var/demo-cli/T2
rm -rf var/demo-cli
mkdir -p var/demo-cli

step() { printf '\n== %s\n' "$*"; }
kassa() { "$KASSA" --data "$DATA" "$@"; }
sale_id() { sed -n 's/.*"sale_id":"\([^"]*\)".*/\1/p'; }

step "Morning: open terminal T1 of store BERLIN-01"
kassa init --store BERLIN-01 --node T1
kassa catalog import data/demo/catalog.csv
kassa catalog list

step "Delivery: 24 cloth bags and 6 espresso packs received"
kassa stock receive BAG-CL:24
kassa stock receive COF-1K:6

step "Sale 1: coffee and milk, 10% off the coffee (cash 20.00)"
kassa sale --line COF-250:2 --line MLK-1L:3 --discount COF-250:10% --pay cash:20
S1=$(kassa --json sale --line MUF-BB:2 --line CRS-BT:3 --pay cash:20 | sale_id)
step "Sale 2 ($S1): pastries, recorded with --json; its receipt"
kassa receipt "$S1"

step "Sale 3: a mug with 2.00 off (damaged box), a newspaper, gift wrap"
S3=$(kassa --json sale --line MUG-KS:1 --line NEWS-D:1 --line GFT-10:1 --discount MUG-KS:2.00 \
    --pay cash:15 | sale_id)
kassa receipt "$S3"

step "The customer of sale 2 changes their mind: void $S1"
kassa void "$S1"

step "Sale 4: espresso beans x3; later one pack comes back"
S4=$(kassa --json sale --line COF-1K:3 --line BAG-CL:1 --pay cash:70 | sale_id)
kassa receipt "$S4"
kassa return "$S4" --line COF-1K:1

step "Refused: returning more than was sold, and paying too little"
kassa return "$S4" --line COF-1K:5 || true
kassa sale --line COF-1K:1 --pay cash:5 || true

step "Evening count: 35 croissants on the shelf"
kassa stock count CRS-BT:35

step "Sales of the day"
kassa sales list

step "Stock"
kassa stock show

step "Cash drawer"
kassa drawer

step "Checks"
kassa log verify
kassa status

step "Terminal T2 (no LAN) catches up from an export file"
"$KASSA" --data "$DATA2" init --store BERLIN-01 --node T2
kassa export > var/demo-cli/T1.ops
"$KASSA" --data "$DATA2" import var/demo-cli/T1.ops
echo "T1 state: $(kassa state-hash)"
echo "T2 state: $("$KASSA" --data "$DATA2" state-hash)"
