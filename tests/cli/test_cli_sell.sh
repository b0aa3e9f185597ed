#!/usr/bin/env bash
# End to end through the kassa CLI: two terminals T1 and T2 of store S1.
# Catalog import and listing, sales with percent and amount discounts (totals
# checked to the cent against docs/PRICING.md by hand), receipts, void,
# partial returns, stock, sales list, drawers, conflicts, and replication by
# export/import (full and --since a version vector) ending in equal
# state hashes, log verify, the audit log of those voids and returns, and
# cashiers (add, change, list, replicated).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
T1=$TEST_TMP/t1
T2=$TEST_TMP/t2
CSV=$KASSA_TEST_FIXTURES/catalog_small.csv
k1() { kassa --data "$T1" "$@"; }
k2() { kassa --data "$T2" "$@"; }

# "lines":[...] of a sale's JSON, one line object per output line.
sale_lines() { grep -o '"lines":\[[^]]*\]' | sed 's/^"lines"://' | json_split; }
top() { json_drop_arrays | json_field "$1"; }
# The JSON object of one sale from `--json sales list` (or conflicts).
sale_entry()
{
    local id=$1 entry
    entry=$(json_split | grep -F "\"sale_id\":\"$id\"" || true)
    [ -n "$entry" ] || fail "sale $id not listed"
    printf '%s\n' "$entry"
}

# ---------------------------------------------------------------- init
note "init"
out=$(kassa --data "$T1" init --store S1 --node T1)
expect_eq "init output" "initialised store S1 node T1 in $T1" "$out"
out=$(kassa --data "$T2" --json init --store S1 --node T2)
expect_eq "init --json store" S1 "$(json_field store <<<"$out")"
expect_eq "init --json node" T2 "$(json_field node <<<"$out")"
[ -f "$T1/kassa.db" ] || fail "no $T1/kassa.db after init"
expect_eq "mode of the data directory" 700 "$(stat -c %a "$T1")"

# ---------------------------------------------------------------- catalog
note "catalog import / list"
out=$(k1 --json catalog import "$CSV")
expect_eq "catalog import --json" '{"imported":13}' "$out"
list=$(k1 catalog list)
expect_eq "catalog list: one line per item" 13 "$(grep -c . <<<"$list")"
expect_match "catalog list row with a quoted comma name" \
    '^COFFEE-250 +Coffee, ground, 250 g +4006381333931 +3\.99 standard +100$' "$list"
expect_match "catalog list row without barcode" \
    '^TEAPOT +Teapot, ceramic, 1 l +24\.55 reduced +20$' "$list"
expect_match "catalog list: doubled quotes" '^BOOK-C +Cookbook "Quick, easy" +9780000000002 +19\.90 zero +10$' "$list"
expect_match "catalog list: stock 0 item" '^GIFTBAG +Gift bag +0\.50 standard +0$' "$list"

json=$(k1 --json catalog list)
expect_eq "catalog list --json: items" 13 "$(json_count <<<"$json")"
item() { json_split <<<"$json" | grep -F "\"sku\":\"$1\""; }
expect_eq "COFFEE-250 name" "Coffee, ground, 250 g" "$(item COFFEE-250 | json_field name)"
expect_eq "COFFEE-250 barcode" 4006381333931 "$(item COFFEE-250 | json_field barcode)"
expect_eq "COFFEE-250 price" 399 "$(item COFFEE-250 | json_field price_minor)"
expect_eq "COFFEE-250 tax class" standard "$(item COFFEE-250 | json_field tax_class)"
expect_eq "COFFEE-250 stock" 100 "$(item COFFEE-250 | json_field stock)"
expect_eq "TEAPOT barcode (none)" "" "$(item TEAPOT | json_field barcode)"
expect_eq "BOOK-C name (escaped quotes)" 'Cookbook \"Quick, easy\"' "$(item BOOK-C | json_field name)"
expect_eq "SUGAR-STK tax class" zero "$(item SUGAR-STK | json_field tax_class)"
expect_eq "MILK-1L tax class" reduced "$(item MILK-1L | json_field tax_class)"
# The file's order is not the list's: the list is by SKU.
expect_eq "first SKU listed" APPLE-KG "$(json_split <<<"$json" | head -n1 | json_field sku)"

# 13 catalog_set operations + 12 stock receipts (GIFTBAG has stock 0).
expect_eq "vv after import" "T1 25" "$(k1 vv)"

note "stock show"
stock=$(k1 stock show)
expect_eq "stock show: SKUs with stock movements" 12 "$(grep -c . <<<"$stock")"
expect_match "stock show SUGAR-STK" '^SUGAR-STK +500$' "$stock"
expect_eq "stock show GIFTBAG" '{"sku":"GIFTBAG","stock":0}' "$(k1 --json stock show GIFTBAG)"

note "catalog set"
k1 catalog set GIFTBAG --price 0.75 --name "Gift bag, large" >/dev/null
expect_match "catalog set took effect" '^GIFTBAG +Gift bag, large +0\.75 standard +0$' "$(k1 catalog list)"

# ---------------------------------------------------------------- sales
# Prices are without tax; tax per line = round_half_up(net * rate), rates
# standard 20 %, reduced 5.5 %, zero 0 % (docs/PRICING.md).
note "sale A: percent and amount discounts, three tax classes"
# COFFEE-250 3 x 3.99 = 11.97, 12.5 % = 1.49625 -> 1.50, net 10.47,
#   tax 20 % = 2.094 -> 2.09, total 12.56
# TEAPOT 2 x 24.55 = 49.10, minus 5.00, net 44.10, tax 5.5 % = 2.4255 -> 2.43,
#   total 46.53
# SUGAR-STK 2 x 0.25 = 0.50, zero rate, total 0.50
# subtotal 55.07, discount 6.50, tax 4.52, total 59.59; cash 100 -> change 40.41
out=$(k1 --json sale --line COFFEE-250:3 --discount COFFEE-250:12.5% --line TEAPOT:2 \
    --discount TEAPOT:5.00 --line SUGAR-STK:2 --pay cash:100)
SALE_A=$(top sale_id <<<"$out")
expect_match "sale A id" '^T1-[0-9]+$' "$SALE_A"
expect_eq "sale A subtotal" 5507 "$(top subtotal_minor <<<"$out")"
expect_eq "sale A discount" 650 "$(top discount_minor <<<"$out")"
expect_eq "sale A tax" 452 "$(top tax_minor <<<"$out")"
expect_eq "sale A total" 5959 "$(top total_minor <<<"$out")"
expect_eq "sale A tendered" 10000 "$(top tendered_minor <<<"$out")"
expect_eq "sale A change" 4041 "$(top change_minor <<<"$out")"
lines=$(sale_lines <<<"$out")
expect_eq "sale A lines" 3 "$(grep -c . <<<"$lines")"
expect_eq "A line 1" '{"sku":"COFFEE-250","qty":3,"unit_price_minor":399,"discount_minor":150,"tax_minor":209,"total_minor":1256}' "$(sed -n 1p <<<"$lines")"
expect_eq "A line 2" '{"sku":"TEAPOT","qty":2,"unit_price_minor":2455,"discount_minor":500,"tax_minor":243,"total_minor":4653}' "$(sed -n 2p <<<"$lines")"
expect_eq "A line 3" '{"sku":"SUGAR-STK","qty":2,"unit_price_minor":25,"discount_minor":0,"tax_minor":0,"total_minor":50}' "$(sed -n 3p <<<"$lines")"

note "sale B: exact halves round up, merged lines, exact payment"
# MILK-1L 2 + 1 = 3 x 1.00, net 3.00, tax 5.5 % = 0.165 -> 0.17 (half up), total 3.17
# CHOC-100 1.99, 50 % = 0.995 -> 1.00 (half up), net 0.99, tax 0.198 -> 0.20, total 1.19
# BATTERY-AA 2 x 4.49 = 8.98, minus 0.99, net 7.99, tax 1.598 -> 1.60, total 9.59
# BOOK-C 19.90, 10 % = 1.99, net 17.91, zero rate, total 17.91
# subtotal 29.89, discount 3.98, tax 1.97, total 31.86, paid exactly
out=$(k1 --json sale --line MILK-1L:2 --line CHOC-100:1 --line MILK-1L:1 --discount CHOC-100:50% \
    --line BATTERY-AA:2 --discount BATTERY-AA:0.99 --line BOOK-C:1 --discount BOOK-C:10% \
    --pay cash:31.86)
SALE_B=$(top sale_id <<<"$out")
expect_eq "sale B subtotal" 2989 "$(top subtotal_minor <<<"$out")"
expect_eq "sale B discount" 398 "$(top discount_minor <<<"$out")"
expect_eq "sale B tax" 197 "$(top tax_minor <<<"$out")"
expect_eq "sale B total" 3186 "$(top total_minor <<<"$out")"
expect_eq "sale B change" 0 "$(top change_minor <<<"$out")"
lines=$(sale_lines <<<"$out")
expect_eq "sale B lines (MILK-1L merged)" 4 "$(grep -c . <<<"$lines")"
expect_eq "B line 1" '{"sku":"MILK-1L","qty":3,"unit_price_minor":100,"discount_minor":0,"tax_minor":17,"total_minor":317}' "$(sed -n 1p <<<"$lines")"
expect_eq "B line 2" '{"sku":"CHOC-100","qty":1,"unit_price_minor":199,"discount_minor":100,"tax_minor":20,"total_minor":119}' "$(sed -n 2p <<<"$lines")"
expect_eq "B line 3" '{"sku":"BATTERY-AA","qty":2,"unit_price_minor":449,"discount_minor":99,"tax_minor":160,"total_minor":959}' "$(sed -n 3p <<<"$lines")"
expect_eq "B line 4" '{"sku":"BOOK-C","qty":1,"unit_price_minor":1990,"discount_minor":199,"tax_minor":0,"total_minor":1791}' "$(sed -n 4p <<<"$lines")"

note "sale C (text output), then void"
# UMBRELLA 12.00, tax 2.40, total 14.40; WATER-15 2 x 0.69 = 1.38, tax 0.0759
# -> 0.08, total 1.46; total 15.86, cash 20 -> change 4.14
receipt=$(k1 sale --line UMBRELLA:1 --line WATER-15:2 --pay cash:20)
SALE_C=$(sed -n 's/^Sale \(T1-[0-9]*\) .*/\1/p' <<<"$receipt")
expect_match "sale C receipt header" '^kassa  store S1  terminal T1$' "$receipt"
expect_match "sale C id in receipt" '^T1-[0-9]+$' "$SALE_C"
expect_match "sale C receipt total" '^TOTAL +15\.86$' "$receipt"
expect_match "sale C receipt change" '^Change +4\.14$' "$receipt"
expect_eq "UMBRELLA stock after sale C" 4 "$(k1 --json stock show UMBRELLA | json_field stock)"
out=$(k1 void "$SALE_C")
expect_eq "void output" "voided $SALE_C: refund 15.86 cash" "$out"
expect_eq "UMBRELLA stock after void" 5 "$(k1 --json stock show UMBRELLA | json_field stock)"
expect_eq "WATER-15 stock after void" 200 "$(k1 --json stock show WATER-15 | json_field stock)"
receipt=$(k1 receipt "$SALE_C")
expect_match "voided receipt" '^\*\*\* VOIDED \*\*\*$' "$receipt"

note "receipt of sale A"
receipt=$(k1 receipt "$SALE_A")
expect_match "receipt A sale line" "^Sale $SALE_A  [0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} UTC\$" "$receipt"
expect_contains "receipt A item name" "Coffee, ground, 250 g" "$receipt"
expect_match "receipt A coffee line" '^  3 x 3\.99 +11\.97$' "$receipt"
expect_match "receipt A coffee discount" '^  discount +-1\.50$' "$receipt"
expect_match "receipt A teapot discount" '^  discount +-5\.00$' "$receipt"
expect_match "receipt A subtotal" '^Subtotal +55\.07$' "$receipt"
expect_match "receipt A tax" '^Tax +4\.52$' "$receipt"
expect_match "receipt A total" '^TOTAL +59\.59$' "$receipt"
expect_match "receipt A cash" '^Cash +100\.00$' "$receipt"
expect_match "receipt A change" '^Change +40\.41$' "$receipt"
expect_no_contains "receipt A is not voided" "VOIDED" "$receipt"
RECEIPT_A_T1=$receipt

note "sale D and partial returns"
# COFFEE-250 3 x 3.99, 12.5 % -> line total 12.56 (as in sale A)
# NEWSPAPER 4 x 2.20 = 8.80, zero rate, total 8.80
# APPLE-KG 2 x 2.79 = 5.58, tax 5.5 % = 0.3069 -> 0.31, total 5.89
# total 27.25, cash 30 -> change 2.75
out=$(k1 --json sale --line COFFEE-250:3 --discount COFFEE-250:12.5% --line NEWSPAPER:4 \
    --line APPLE-KG:2 --pay cash:30)
SALE_D=$(top sale_id <<<"$out")
expect_eq "sale D total" 2725 "$(top total_minor <<<"$out")"
expect_eq "sale D change" 275 "$(top change_minor <<<"$out")"
expect_eq "COFFEE-250 stock after sales A and D" 94 "$(k1 --json stock show COFFEE-250 | json_field stock)"

# Refund of k units after r returned: cum(r+k) - cum(r), cum(m) = round(T*m/q)
refunds=0
ret() # ret EXPECTED_REFUND --line ...
{
    local want=$1 out id
    shift
    out=$(k1 --json return "$SALE_D" "$@")
    expect_eq "refund of return $*" "$want" "$(json_field refund_minor <<<"$out")"
    expect_eq "return's sale id" "$SALE_D" "$(json_field sale_id <<<"$out")"
    id=$(json_field return_id <<<"$out")
    expect_match "return id" '^T1-[0-9]+$' "$id"
    refunds=$((refunds + want))
}
ret 419 --line COFFEE-250:1                       # cum(1) = round(418.67) = 419
ret 418 --line COFFEE-250:1                       # cum(2) - cum(1) = 837 - 419
ret 639 --line COFFEE-250:1 --line NEWSPAPER:1    # 1256 - 837 = 419, 880/4 = 220
ret 295 --line APPLE-KG:1                         # round(589/2 = 294.5) = 295 (half up)
out=$(k1 return "$SALE_D" --line NEWSPAPER:3 --line APPLE-KG:1)  # 880-220 + 589-295
expect_match "text return output" "^return T1-[0-9]+ against $SALE_D: refund 9\\.54 cash\$" "$out"
refunds=$((refunds + 954))
expect_eq "refunds add up to the sale total" 2725 "$refunds"
expect_eq "COFFEE-250 stock after returns" 97 "$(k1 --json stock show COFFEE-250 | json_field stock)"
expect_eq "NEWSPAPER stock after returns" 30 "$(k1 --json stock show NEWSPAPER | json_field stock)"
expect_fail --grep "cannot return 1 of COFFEE-250: sale $SALE_D sold 3, 3 already returned" \
    kassa --data "$T1" return "$SALE_D" --line COFFEE-250:1
receipt=$(k1 receipt "$SALE_D")
expect_match "receipt D refunded" '^Refunded by returns +27\.25$' "$receipt"
expect_match "receipt D total" '^TOTAL +27\.25$' "$receipt"

note "stock receive / count / show"
out=$(k1 stock receive GIFTBAG:25)
expect_eq "stock receive output" "GIFTBAG: received +25, stock now 25" "$out"
out=$(k1 --json stock receive UMBRELLA:10)
expect_eq "stock receive --json" '{"sku":"UMBRELLA","stock":15,"delta":10}' "$out"
out=$(k1 stock count UMBRELLA:12)
expect_eq "stock count output" "UMBRELLA: counted -3, stock now 12" "$out"
out=$(k1 --json stock count WATER-15:190)
expect_eq "stock count --json" '{"sku":"WATER-15","stock":190,"delta":-10}' "$out"
out=$(k1 --json stock count BREAD:0)
expect_eq "stock count to zero" '{"sku":"BREAD","stock":0,"delta":-40}' "$out"
out=$(k1 --json stock count CHOC-100:149)
expect_eq "stock count, no difference" '{"sku":"CHOC-100","stock":149,"delta":0}' "$out"
stock=$(k1 stock show)
expect_match "stock show GIFTBAG" '^GIFTBAG +25$' "$stock"
expect_match "stock show UMBRELLA" '^UMBRELLA +12$' "$stock"
expect_match "stock show TEAPOT" '^TEAPOT +18$' "$stock"
expect_match "stock show MILK-1L" '^MILK-1L +57$' "$stock"
expect_match "stock show BREAD" '^BREAD +0$' "$stock"
json=$(k1 --json stock show)
expect_eq "stock show --json entries" 13 "$(json_count <<<"$json")"
expect_eq "stock show --json SUGAR-STK" '{"sku":"SUGAR-STK","stock":498}' "$(json_split <<<"$json" | grep SUGAR-STK)"

note "sales list, drawer, conflicts"
list=$(k1 sales list)
expect_eq "sales list: four sales" 4 "$(grep -c . <<<"$list")"
expect_match "sales list A" "^$SALE_A +59\\.59\$" "$list"
expect_match "sales list C voided" "^$SALE_C +15\\.86  voided\$" "$list"
expect_match "sales list D returns" "^$SALE_D +27\\.25  returns\$" "$list"
expect_eq "sales list order" "$SALE_A $SALE_B $SALE_C $SALE_D" "$(awk '{print $1}' <<<"$list" | tr '\n' ' ' | sed 's/ $//')"
json=$(k1 --json sales list)
expect_eq "sales list --json entries" 4 "$(json_count <<<"$json")"
e=$(sale_entry "$SALE_B" <<<"$json")
expect_eq "B total" 3186 "$(json_field total_minor <<<"$e")"
expect_eq "B voided" false "$(json_field voided <<<"$e")"
expect_match "B time_ms" '^[0-9]{13}$' "$(json_field time_ms <<<"$e")"
e=$(sale_entry "$SALE_C" <<<"$json")
expect_eq "C voided" true "$(json_field voided <<<"$e")"
expect_eq "C refunded by returns" 0 "$(json_field refunded_minor <<<"$e")"
e=$(sale_entry "$SALE_D" <<<"$json")
expect_eq "D refunded" 2725 "$(json_field refunded_minor <<<"$e")"
expect_eq "D voided" false "$(json_field voided <<<"$e")"
expect_eq "D conflict" false "$(json_field conflict <<<"$e")"

# Cash in: 59.59 + 31.86 + 15.86 + 27.25; out: void 15.86, returns 27.25.
expect_eq "drawer" "drawer (all terminals): 91.45" "$(k1 drawer)"
expect_eq "drawer --node T1" '{"node":"T1","cash_minor":9145}' "$(k1 --json drawer --node T1)"
expect_eq "conflicts (none)" "" "$(k1 conflicts)"
expect_eq "conflicts --json (none)" "[]" "$(k1 --json conflicts)"
expect_eq "status sales" 4 "$(k1 --json status | json_field sales)"
expect_eq "status pending" 0 "$(k1 --json status | json_field pending)"

# ---------------------------------------------------------------- replication
note "export T1 -> import T2"
k1 export >"$TEST_TMP/t1_all.bin"
n1=$(k1 vv | awk '$1 == "T1" {print $2}')
out=$(k2 --json import "$TEST_TMP/t1_all.bin")
expect_eq "import on T2" "{\"in_file\":$n1,\"applied\":$n1,\"duplicates\":0,\"pending\":0,\"dropped\":0,\"clock_skew_reports\":0}" "$out"
expect_eq "vv T2 after import" "$(k1 vv)" "$(k2 vv)"
expect_eq "state hash T2 = T1" "$(state_hash "$T1")" "$(state_hash "$T2")"
expect_eq "receipt of A on T2" "$RECEIPT_A_T1" "$(k2 receipt "$SALE_A")"
expect_eq "catalog on T2" "$(k1 --json catalog list)" "$(k2 --json catalog list)"
out=$(k2 import "$TEST_TMP/t1_all.bin")
expect_eq "re-import is a no-op" "$n1 operations: 0 applied, $n1 already held, 0 pending" "$out"

note "T2 sells and returns against a T1 sale; export --since"
# BREAD 2 x 2.50 = 5.00, tax 0.275 -> 0.28, total 5.28; TEAPOT 24.55, tax
# 1.35025 -> 1.35, total 25.90; total 31.18, cash 50 -> change 18.82
out=$(k2 --json sale --line BREAD:2 --line TEAPOT:1 --pay cash:50)
SALE_E=$(top sale_id <<<"$out")
expect_match "sale E id" '^T2-1$' "$SALE_E"
expect_eq "sale E total" 3118 "$(top total_minor <<<"$out")"
expect_eq "sale E change" 1882 "$(top change_minor <<<"$out")"
# MILK-1L line of B: 3 units, total 3.17: one back = round(105.67) = 1.06
out=$(k2 --json return "$SALE_B" --line MILK-1L:1)
expect_eq "cross-terminal return refund" 106 "$(json_field refund_minor <<<"$out")"
# T2-2 is the return's audit operation, written just before it.
expect_eq "cross-terminal return id" T2-3 "$(json_field return_id <<<"$out")"
expect_eq "BREAD stock may go negative" -2 "$(k2 --json stock show BREAD | json_field stock)"

k1 vv >"$TEST_TMP/t1.vv"
k2 export --since "$TEST_TMP/t1.vv" >"$TEST_TMP/t2_new.bin"
k2 export >"$TEST_TMP/t2_all.bin"
[ "$(stat -c %s "$TEST_TMP/t2_new.bin")" -lt "$(stat -c %s "$TEST_TMP/t2_all.bin")" ] ||
    fail "export --since is not smaller than a full export"
out=$(k1 --json import "$TEST_TMP/t2_new.bin")
expect_eq "import of T2's new operations" '{"in_file":3,"applied":3,"duplicates":0,"pending":0,"dropped":0,"clock_skew_reports":0}' "$out"
expect_eq "vv T1 = vv T2" "$(k2 vv)" "$(k1 vv)"
expect_eq "vv content" "T1 $n1"$'\n'"T2 3" "$(k1 vv)"
expect_eq "state hash T1 = T2" "$(state_hash "$T2")" "$(state_hash "$T1")"
expect_eq "BREAD stock on T1" -2 "$(k1 --json stock show BREAD | json_field stock)"
e=$(k1 --json sales list | sale_entry "$SALE_B")
expect_eq "B refunded (seen on T1)" 106 "$(json_field refunded_minor <<<"$e")"
expect_eq "drawer T2 seen on T1" '{"node":"T2","cash_minor":3012}' "$(k1 --json drawer --node T2)"
expect_eq "drawer all on T2" "drawer (all terminals): 121.57" "$(k2 drawer)"

k1 vv >"$TEST_TMP/t1b.vv"
k1 export --since "$TEST_TMP/t1b.vv" >"$TEST_TMP/nothing.bin"
out=$(k2 --json import "$TEST_TMP/nothing.bin")
expect_eq "export --since everything is empty" '{"in_file":0,"applied":0,"duplicates":0,"pending":0,"dropped":0,"clock_skew_reports":0}' "$out"
# The full export of T2 now carries both origins; T1 holds it all.
before=$(snapshot "$T1")
out=$(k1 --json import "$TEST_TMP/t2_all.bin")
expect_eq "T2's full export on T1" "{\"in_file\":$((n1 + 3)),\"applied\":0,\"duplicates\":$((n1 + 3)),\"pending\":0,\"dropped\":0,\"clock_skew_reports\":0}" "$out"
expect_eq "duplicate import changed nothing" "$before" "$(snapshot "$T1")"

note "concurrent void (T1) and return (T2) of one sale: a conflict"
out=$(k1 --json sale --line SUGAR-STK:10 --pay cash:5)
SALE_F=$(top sale_id <<<"$out")
expect_eq "sale F total" 250 "$(top total_minor <<<"$out")"
k2 vv >"$TEST_TMP/t2.vv"
k1 export --since "$TEST_TMP/t2.vv" >"$TEST_TMP/f.bin"
k2 import "$TEST_TMP/f.bin" >/dev/null
# Now apart: T1 voids F, T2 returns 4 of its 10 units.
expect_eq "void F on T1" "voided $SALE_F: refund 2.50 cash" "$(k1 void "$SALE_F")"
out=$(k2 --json return "$SALE_F" --line SUGAR-STK:4)
expect_eq "return on T2 of F" 100 "$(json_field refund_minor <<<"$out")"
k1 vv >"$TEST_TMP/t1.vv"
k2 vv >"$TEST_TMP/t2.vv"
k1 export --since "$TEST_TMP/t2.vv" >"$TEST_TMP/to_t2.bin"
k2 export --since "$TEST_TMP/t1.vv" >"$TEST_TMP/to_t1.bin"
# Each side: the audit operation and the void (return) it audits.
expect_eq "T1 -> T2 ops" 2 "$(k2 --json import "$TEST_TMP/to_t2.bin" | json_field applied)"
expect_eq "T2 -> T1 ops" 2 "$(k1 --json import "$TEST_TMP/to_t1.bin" | json_field applied)"
expect_eq "state hash after the conflict" "$(state_hash "$T1")" "$(state_hash "$T2")"
for k in k1 k2; do
    c=$($k conflicts)
    expect_match "$k: conflicts lists F" "^$SALE_F +2\\.50  voided  returns  CONFLICT\$" "$c"
    expect_eq "$k: one conflict" 1 "$(grep -c . <<<"$c")"
    e=$($k --json conflicts | sale_entry "$SALE_F")
    expect_eq "$k: F conflict" true "$(json_field conflict <<<"$e")"
    expect_eq "$k: F voided" true "$(json_field voided <<<"$e")"
    expect_eq "$k: F refunded by returns" 100 "$(json_field refunded_minor <<<"$e")"
    # Stock: sold 10, the void credits 10 back, the return on the voided
    # sale credits nothing more.
    expect_eq "$k: SUGAR-STK stock" 498 "$($k --json stock show SUGAR-STK | json_field stock)"
    expect_contains "$k: receipt flags the conflict" "needs review" "$($k receipt "$SALE_F")"
done
# Both refunds physically left the drawers: T1 +2.50 -2.50, T2 -1.00.
expect_eq "drawer T1 after conflict" '{"node":"T1","cash_minor":9145}' "$(k2 --json drawer --node T1)"
expect_eq "drawer T2 after conflict" '{"node":"T2","cash_minor":2912}' "$(k1 --json drawer --node T2)"

note "tax rate change"
k1 tax set reduced 7 >/dev/null
# MILK-1L 3 x 1.00 at 7 %: tax 0.21, total 3.21
expect_eq "sale at the new rate" 321 "$(k1 --json sale --line MILK-1L:3 --pay cash:5 | top total_minor)"
k2 vv >"$TEST_TMP/t2.vv"
k1 export --since "$TEST_TMP/t2.vv" >"$TEST_TMP/tax.bin"
k2 import "$TEST_TMP/tax.bin" >/dev/null
expect_eq "same rate on T2" 321 "$(k2 --json sale --line MILK-1L:3 --pay cash:5 | top total_minor)"
k2 vv >"$TEST_TMP/t2.vv"
k1 vv >"$TEST_TMP/t1.vv"
k2 export --since "$TEST_TMP/t1.vv" >"$TEST_TMP/last.bin"
k1 import "$TEST_TMP/last.bin" >/dev/null
expect_eq "final state hash" "$(state_hash "$T1")" "$(state_hash "$T2")"
expect_eq "final vv" "$(k1 vv)" "$(k2 vv)"

note "log verify"
for k in k1 k2; do
    out=$($k log verify)
    expect_match "$k log verify" '^log ok: [0-9]+ operations from 2 origins$' "$out"
    out=$($k --json log verify)
    expect_eq "$k log verify --json ok" true "$(json_field ok <<<"$out")"
    expect_eq "$k log verify --json origins" 2 "$(json_field origins <<<"$out")"
done
expect_eq "log ops = sum of vv" "$(k1 vv | awk '{s += $2} END {print s}')" "$(k1 --json log verify | json_field ops)"
expect_eq "integrity T1" ok "$(sqlite3 "$T1/kassa.db" 'PRAGMA integrity_check')"
expect_eq "integrity T2" ok "$(sqlite3 "$T2/kassa.db" 'PRAGMA integrity_check')"

# ---------------------------------------------------------------- more
# Independent of each other: one failing does not hide the others.
T3=$TEST_TMP/t3
kassa --data "$T3" init --store S1 --node T3 >/dev/null

empty_terminal()
{
    expect_eq "vv of a new terminal" "" "$(kassa --data "$T3" vv)"
    expect_eq "vv --json of a new terminal" "{}" "$(kassa --data "$T3" --json vv)"
    expect_eq "sales of a new terminal" "[]" "$(kassa --data "$T3" --json sales list)"
    expect_eq "stock of a new terminal" "" "$(kassa --data "$T3" stock show)"
    expect_eq "drawer of a new terminal" "drawer (all terminals): 0.00" "$(kassa --data "$T3" drawer)"
    kassa --data "$T3" export >"$TEST_TMP/empty_export.bin"
    expect_eq "empty export into T1" 0 "$(k1 --json import "$TEST_TMP/empty_export.bin" | json_field in_file)"
}

out_of_order()
{
    empty_hash=$(state_hash "$T3")
    printf 'T1 %s\n' "$n1" >"$TEST_TMP/n1.vv"
    k1 export --since "$TEST_TMP/n1.vv" >"$TEST_TMP/newer.bin"
    in_newer=$(( $(k1 vv | awk '{s += $2} END {print s}') - n1 ))
    out=$(kassa --data "$T3" --json import "$TEST_TMP/newer.bin")
    # T1's operations after n1 have a gap before them; T2's own operations start
    # at 1 but its return against sale B waits for that sale. Nothing applies
    # until the gap is filled, except T2's sale E and what follows it in order.
    expect_eq "newer ops: in file" "$in_newer" "$(json_field in_file <<<"$out")"
    pending=$(json_field pending <<<"$out")
    applied=$(json_field applied <<<"$out")
    expect_eq "newer ops: applied + pending" "$in_newer" "$((applied + pending))"
    echo "   newer ops: $applied applied at once, $pending held back"
    [ "$pending" -gt 0 ] || fail "nothing held back from a file with a gap"
    expect_eq "pending in status" "$pending" "$(kassa --data "$T3" --json status | json_field pending)"
    expect_eq "T1 not in the vv yet" "" "$(kassa --data "$T3" vv | grep '^T1 ' || true)"
    out=$(kassa --data "$T3" --json import "$TEST_TMP/t1_all.bin")
    expect_eq "older ops unblock the pending ones" "$((n1 + pending))" "$(json_field applied <<<"$out")"
    expect_eq "nothing pending" 0 "$(json_field pending <<<"$out")"
    expect_eq "state hash after out-of-order delivery" "$(state_hash "$T1")" "$(state_hash "$T3")"
    expect_eq "vv after out-of-order delivery" "$(k1 vv)" "$(kassa --data "$T3" vv | grep -v '^T3 ' || true)"
    [ "$empty_hash" != "$(state_hash "$T3")" ] || fail "state hash did not change"
    expect_match "log verify on T3" '^log ok: ' "$(kassa --data "$T3" log verify)"
}

bom_crlf()
{
    T4=$TEST_TMP/t4
    kassa --data "$T4" init --store S1 --node T4 >/dev/null
    { printf '\xef\xbb\xbf'; sed 's/$/\r/' "$CSV"; } >"$TEST_TMP/crlf.csv"
    expect_eq "BOM + CRLF import" "imported 13 items" "$(kassa --data "$T4" catalog import "$TEST_TMP/crlf.csv")"
    T5=$TEST_TMP/t5
    kassa --data "$T5" init --store S1 --node T5 >/dev/null
    kassa --data "$T5" catalog import "$CSV" >/dev/null
    expect_eq "same catalog as from the plain file" "$(kassa --data "$T5" --json catalog list)" \
        "$(kassa --data "$T4" --json catalog list)"
}

restore()
{
    k2 export >"$TEST_TMP/t2_final.bin"
    R=$TEST_TMP/t1_restored
    kassa --data "$R" init --store S1 --node T1 >/dev/null
    kassa --data "$R" import "$TEST_TMP/t2_final.bin" >/dev/null
    expect_eq "restored state" "$(state_hash "$T1")" "$(state_hash "$R")"
    head1=$(k1 vv | awk '$1 == "T1" {print $2}')
    out=$(kassa --data "$R" --json sale --line MILK-1L:1 --pay cash:5)
    expect_eq "restored terminal's next sale id" "T1-$((head1 + 1))" "$(top sale_id <<<"$out")"
    printf 'T1 %s\n' "$head1" >"$TEST_TMP/head1.vv"
    kassa --data "$R" export --since "$TEST_TMP/head1.vv" >"$TEST_TMP/restored_new.bin"
    expect_eq "its new sale continues T1's chain on T2" 1 \
        "$(k2 --json import "$TEST_TMP/restored_new.bin" | json_field applied)"
    expect_match "log verify on T2" '^log ok: ' "$(k2 log verify)"
}

run_section "a terminal with nothing in it" empty_terminal
run_section "out-of-order delivery: the newer operations first, then the older" out_of_order
run_section "a CSV with a UTF-8 BOM and CRLF line ends" bom_crlf
audit_and_cashiers()
{
    local audit json e n_void n_ret id
    # The CLI acts on its own authority: every void and return so far is
    # audited with no cashier and no supervisor, the operation just before
    # the void or return it audits.
    audit=$(k1 audit)
    printf '   %s\n' "${audit//$'\n'/$'\n'   }"
    n_void=$(grep -cE '^T[12]-[0-9]+ +void ' <<<"$audit" || true)
    n_ret=$(grep -cE '^T[12]-[0-9]+ +return ' <<<"$audit" || true)
    expect_eq "audited voids (C, F)" 2 "$n_void"
    expect_eq "audited returns (5 of D, B and F on T2)" 7 "$n_ret"
    expect_eq "audit entries" 9 "$(grep -c . <<<"$audit")"
    expect_eq "all by the operator" 9 "$(grep -c ' cashier=- supervisor=- ' <<<"$audit")"
    expect_match "audit: void of C" "^T1-[0-9]+ +void +cashier=- supervisor=- $SALE_C: \$" "$audit"
    expect_eq "audit: returns of D" 5 "$(grep -cE "^T1-[0-9]+ +return +cashier=- supervisor=- $SALE_D: refund [0-9]+\.[0-9]{2}\$" <<<"$audit")"
    expect_match "audit: T2's return of B" "^T2-2 +return +cashier=- supervisor=- $SALE_B: refund 1\\.06\$" "$audit"
    expect_match "audit: T2's return of F" "^T2-[0-9]+ +return +cashier=- supervisor=- $SALE_F: refund 1\\.00\$" "$audit"
    expect_eq "the same audit log on T2" "$audit" "$(k2 audit)"
    json=$(k1 --json audit)
    expect_eq "audit --json entries" 9 "$(json_count <<<"$json")"
    e=$(json_split <<<"$json" | grep -F '"id":"T2-2"')
    expect_eq "audit --json action" return "$(json_field action <<<"$e")"
    expect_eq "audit --json subject" "$SALE_B" "$(json_field subject <<<"$e")"
    expect_eq "audit --json cashier" "" "$(json_field cashier <<<"$e")"
    expect_eq "audit --json supervisor" "" "$(json_field supervisor <<<"$e")"
    expect_eq "audit --json detail" "refund 1.06" "$(json_field detail <<<"$e")"
    expect_match "audit --json time_ms" '^[0-9]{13}$' "$(json_field time_ms <<<"$e")"
    # The void of C is the operation after its audit entry.
    id=$(grep -E "^T1-[0-9]+ +void .* $SALE_C: " <<<"$audit" | awk '{print $1}')
    expect_eq "void of C: its receipt still says voided" "*** VOIDED ***" "$(k1 receipt "$SALE_C" | grep -F 'VOIDED')"
    sqlite3 "$T1/kassa.db" "SELECT kind FROM ops WHERE origin = (SELECT id FROM origins WHERE name = 'T1') AND seq IN (${id#T1-}, ${id#T1-} + 1) ORDER BY seq" >"$TEST_TMP/kinds"
    expect_eq "audit (9), then void (3)" "9 3" "$(tr '\n' ' ' <"$TEST_TMP/kinds" | sed 's/ $//')"

    # Cashiers: none yet; added, changed, listed by id, replicated.
    expect_eq "no cashiers" "" "$(k1 cashier list)"
    expect_eq "no cashiers --json" "[]" "$(k1 --json cashier list)"
    local v0 out list
    v0=$(k1 vv | awk '$1 == "T1" {print $2}')
    k1 vv >"$TEST_TMP/v0.vv"
    out=$(k1 cashier add zoe --name "Zoe Martin" --role cashier --pin 4711)
    expect_eq "cashier add output" "cashier zoe (cashier) saved" "$out"
    out=$(k1 --json cashier add bob --name "Bob, the supervisor" --role supervisor --pin 123456789012)
    expect_eq "cashier add --json" '{"id":"bob","name":"Bob, the supervisor","role":"supervisor"}' "$out"
    k1 cashier add amy --name "Amy" --role manager --pin 0000 >/dev/null
    list=$(k1 cashier list)
    expect_eq "cashier list: three" 3 "$(grep -c . <<<"$list")"
    expect_eq "cashier list order" "amy bob zoe" "$(awk '{print $1}' <<<"$list" | tr '\n' ' ' | sed 's/ $//')"
    expect_match "cashier list zoe" '^zoe +Zoe Martin +cashier$' "$list"
    expect_match "cashier list bob" '^bob +Bob, the supervisor +supervisor$' "$list"
    expect_eq "cashier list --json" '[{"id":"amy","name":"Amy","role":"manager"},{"id":"bob","name":"Bob, the supervisor","role":"supervisor"},{"id":"zoe","name":"Zoe Martin","role":"cashier"}]' "$(k1 --json cashier list)"
    k1 cashier add zoe --name "Zoe M." --role supervisor --pin 8080 >/dev/null
    expect_match "cashier changed" '^zoe +Zoe M\. +supervisor$' "$(k1 cashier list)"
    expect_eq "one operation per cashier add" "$((v0 + 4))" "$(k1 vv | awk '$1 == "T1" {print $2}')"
    expect_eq "cashier adds are not audited" 9 "$(k1 --json audit | json_count)"
    expect_eq "PINs only as Argon2id hashes" 3 "$(sqlite3 "$T1/kassa.db" "SELECT count(*) FROM cashiers WHERE pin_hash LIKE '\$argon2id\$%'")"
    expect_eq "no PIN in the log" 0 "$(sqlite3 "$T1/kassa.db" "SELECT count(*) FROM ops WHERE instr(payload, CAST('123456789012' AS BLOB)) > 0")"
    # To a fresh terminal (T2 may hold a fork of T1's log from the restore
    # section), then only the cashier operations to one that has the rest.
    local T6=$TEST_TMP/t6 T7=$TEST_TMP/t7
    kassa --data "$T6" init --store S1 --node T6 >/dev/null
    kassa --data "$T7" init --store S1 --node T7 >/dev/null
    k1 export --since "$TEST_TMP/v0.vv" >"$TEST_TMP/cashiers.bin"
    expect_eq "only the cashier ops" 4 "$(kassa --data "$T7" --json import "$TEST_TMP/cashiers.bin" | json_field in_file)"
    expect_eq "cashier ops wait for T1's earlier ones" "" "$(kassa --data "$T7" cashier list)"
    k1 export >"$TEST_TMP/t1_cashiers.bin"
    kassa --data "$T6" import "$TEST_TMP/t1_cashiers.bin" >/dev/null
    kassa --data "$T7" import "$TEST_TMP/t1_cashiers.bin" >/dev/null
    for d in "$T6" "$T7"; do
        expect_eq "cashiers on $d" "$(k1 --json cashier list)" "$(kassa --data "$d" --json cashier list)"
        expect_eq "state hash with cashiers on $d" "$(state_hash "$T1")" "$(state_hash "$d")"
        expect_eq "audit log on $d" "$(k1 audit)" "$(kassa --data "$d" audit)"
        expect_match "log verify on $d" '^log ok: ' "$(kassa --data "$d" log verify)"
    done
}

run_section "a terminal restored from a peer's export continues its own log" restore
run_section "the audit log and cashiers" audit_and_cashiers
finish
