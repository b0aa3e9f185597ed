#!/usr/bin/env bash
# `kassa voice` over a terminal's catalog: an order from a WAV file (text and
# --json), "please repeat" for other speech, the synonyms of the data
# directory or --synonyms, the grammar listing, a product added to the
# catalog heard at once (the grammar is built from the catalog of the
# moment), and bad input: not a WAV, a missing file, a bad synonyms file,
# bad usage. Nothing is recorded: the state hash does not change.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
T=$TEST_TMP/t1
FX=$KASSA_TEST_FIXTURES/voice
SYN=$KASSA_SRC/data/demo/voice_synonyms.csv
kassa --data "$T" init --store S1 --node T1 >/dev/null
kassa --data "$T" catalog import "$KASSA_SRC/data/demo/catalog.csv" >/dev/null

section_order()
{
    local out
    expect_unchanged "$T" kassa --data "$T" voice --synonyms "$SYN" "$FX/two_coffees_8k.wav" >/dev/null
    out=$(kassa --data "$T" voice --synonyms "$SYN" "$FX/two_coffees_8k.wav")
    expect_contains "heard" "heard: two coffees and a blueberry muffin" "$out"
    expect_match "coffee line" '^  add +2  COF-250 +Coffee, house blend 250g$' "$out"
    expect_match "muffin line" '^  add +1  MUF-BB +Blueberry muffin$' "$out"
    out=$(kassa --data "$T" --json voice --synonyms "$SYN" "$FX/two_coffees_8k.wav")
    expect_eq "json status" heard "$(json_field status <<<"$(json_drop_arrays <<<"$out")")"
    expect_eq "json repeat" false "$(json_field repeat <<<"$(json_drop_arrays <<<"$out")")"
    expect_contains "json change" '{"op":"add","sku":"COF-250","name":"Coffee, house blend 250g","qty":2,"all":false}' "$out"
}

section_repeat()
{
    local out
    out=$(kassa --data "$T" voice --synonyms "$SYN" "$FX/weather_8k.wav")
    expect_match "please repeat" '^please repeat \((low_confidence|out_of_grammar)' "$out"
    out=$(kassa --data "$T" --json voice --synonyms "$SYN" "$FX/weather_8k.wav")
    expect_eq "json repeat" true "$(json_field repeat <<<"$(json_drop_arrays <<<"$out")")"
    expect_contains "no changes" '"changes":[]' "$out"
}

section_synonyms()
{
    local out
    # "muffin" is the demo synonyms' word: without them the phrase is not
    # in the grammar; from DIR/voice_synonyms.csv or --synonyms it is.
    out=$(kassa --data "$T" voice --grammar)
    expect_no_contains "no synonyms yet" "p_muffin " "$out"
    expect_contains "derived name" "p_blueberry_muffin" "$out"
    cp "$SYN" "$T/voice_synonyms.csv"
    out=$(kassa --data "$T" voice --grammar)
    expect_contains "synonym from the data dir" "p_muffin " "$out"
    expect_match "given pronunciation" '^# p_gouda +given +G UW D AH$' "$out"
    rm "$T/voice_synonyms.csv"
    out=$(kassa --data "$T" voice --grammar --synonyms "$SYN")
    expect_contains "synonym from --synonyms" "p_muffin " "$out"
    out=$(kassa --data "$T" --json voice --grammar)
    expect_contains "json grammar" '"jsgf":"#JSGF V1.0;' "$out"
}

section_catalog_change()
{
    local out
    out=$(kassa --data "$T" voice --grammar)
    expect_no_contains "not yet in the catalog" "p_kumquat_jam" "$out"
    printf 'sku,name,barcode,price,tax_class,stock\nJAM-KQ,Kumquat jam 340g,,3.10,reduced,5\n' \
        >"$TEST_TMP/more.csv"
    kassa --data "$T" catalog import "$TEST_TMP/more.csv" >/dev/null
    out=$(kassa --data "$T" voice --grammar)
    expect_contains "new product in the grammar" "p_kumquat_jams" "$out"
}

section_bad_input()
{
    printf 'not audio at all' >"$TEST_TMP/junk.wav"
    expect_unchanged "$T" expect_fail --grep 'not a WAV file' kassa --data "$T" voice "$TEST_TMP/junk.wav"
    expect_fail --grep 'cannot open' kassa --data "$T" voice "$TEST_TMP/missing.wav"
    printf 'COF-250,coffee 2\n' >"$TEST_TMP/bad.csv"
    expect_fail --grep 'bad.csv: synonyms line 1: the phrase must be' \
        kassa --data "$T" voice --synonyms "$TEST_TMP/bad.csv" "$FX/two_coffees_8k.wav"
    expect_fail --usage kassa --data "$T" voice
    expect_fail --usage kassa --data "$T" voice a.wav b.wav
    expect_fail --usage kassa --data "$T" voice --grammar "$FX/two_coffees_8k.wav"
    expect_fail --grep 'no data directory' kassa voice "$FX/two_coffees_8k.wav"
}

run_section order section_order
run_section repeat section_repeat
run_section synonyms section_synonyms
run_section catalog_change section_catalog_change
run_section bad_input section_bad_input
finish
