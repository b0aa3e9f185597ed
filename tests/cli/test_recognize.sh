#!/usr/bin/env bash
# kassa recognize: the product fixtures (tests/fixtures/products, the SKU in
# each file name) through the committed model (models/product) as text and
# --json; unknown products and the barcode image fall back to the barcode
# (with the EAN-13 read by zbar); without a model, or with a broken one, the
# answer is still the barcode fallback (with a warning); images read from
# stdin; bad images and bad arguments fail with one clear line.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
MODEL=$KASSA_SRC/models/product
FIX=$KASSA_TEST_FIXTURES/products
unset KASSA_MODEL_DIR

# at_least A B: A >= B for decimals.
at_least() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a >= b) }'; }

section_products()
{
    local f name sku out n=0
    for f in "$FIX"/*_*.png "$FIX"/*_*.jpg; do
        name=$(basename "$f")
        case $name in unknown_* | barcode_*) continue ;; esac
        sku=${name%_*}
        out=$(kassa --json recognize "$f" --model "$MODEL")
        expect_eq "$name sku" "$sku" "$(json_drop_arrays <<<"$out" | json_field sku)"
        at_least "$(json_drop_arrays <<<"$out" | json_field confidence)" 0.70 ||
            fail "$name: confidence below 0.70: $out"
        expect_match "$name alternatives" '"alternatives":\[\{"sku":"[A-Z0-9-]+","confidence":[0-9.e-]+\},\{' "$out"
        expect_no_contains "$name" '"fallback"' "$out"
        n=$((n + 1))
    done
    expect_eq "product fixtures" 14 "$n"
    out=$(kassa recognize "$FIX"/COF-250_*.png --model "$MODEL")
    expect_match "text output" '^COF-250 \(confidence (0\.[7-9][0-9]|1\.00)\); alternatives: [A-Z0-9-]+ 0\.[0-9]{2}, [A-Z0-9-]+ 0\.[0-9]{2}$' "$out"
}

section_fallbacks()
{
    local f out
    for f in "$FIX"/unknown_*.png; do
        out=$(kassa --json recognize "$f" --model "$MODEL")
        expect_eq "$(basename "$f") fallback" barcode "$(json_drop_arrays <<<"$out" | json_field fallback)"
        expect_eq "$(basename "$f") barcode" null "$(json_drop_arrays <<<"$out" | json_field barcode)"
        expect_eq "$(basename "$f") reason" low_confidence "$(json_drop_arrays <<<"$out" | json_field reason)"
        expect_no_contains "$(basename "$f")" '"sku":"' "$(json_drop_arrays <<<"$out")"
        out=$(kassa recognize "$f" --model "$MODEL")
        expect_match "text" '^fallback to barcode: no barcode in the image; best guess [A-Z0-9-]+ 0\.[0-6][0-9] is below 0\.70$' "$out"
    done
    f=$(echo "$FIX"/barcode_*.png)
    local digits=${f##*_}
    digits=${digits%.png}
    out=$(kassa --json recognize "$f" --model "$MODEL")
    expect_eq "barcode" "$digits" "$(json_drop_arrays <<<"$out" | json_field barcode)"
    expect_eq "symbology" EAN-13 "$(json_drop_arrays <<<"$out" | json_field symbology)"
    out=$(kassa recognize "$f" --model "$MODEL")
    expect_match "barcode text" "^fallback to barcode: $digits \(EAN-13\); best guess" "$out"
    # A threshold above any confidence: even a clear product falls back.
    out=$(kassa --json recognize "$FIX"/COF-250_*.png --model "$MODEL" --threshold 1)
    expect_eq "threshold 1" low_confidence "$(json_drop_arrays <<<"$out" | json_field reason)"
}

section_model_dir()
{
    local f out err
    f=$(echo "$FIX"/barcode_*.png)
    # No model: the barcode still answers, with a warning.
    out=$(kassa --json recognize "$f" 2>"$TEST_TMP/err")
    expect_eq "no model" model_error "$(json_drop_arrays <<<"$out" | json_field reason)"
    expect_match "no model barcode" '"barcode":"[0-9]{13}"' "$out"
    expect_contains "no model warning" "no product model" "$(cat "$TEST_TMP/err")"
    # The environment names the model.
    out=$(KASSA_MODEL_DIR=$MODEL kassa --json recognize "$FIX"/BRD-SD_*.png)
    expect_eq "env model" BRD-SD "$(json_drop_arrays <<<"$out" | json_field sku)"
    # --model wins over the environment.
    mkdir -p "$TEST_TMP/empty"
    out=$(KASSA_MODEL_DIR=$TEST_TMP/empty kassa --json recognize "$FIX"/BRD-SD_*.png --model "$MODEL")
    expect_eq "--model wins" BRD-SD "$(json_drop_arrays <<<"$out" | json_field sku)"
    # A broken model: fallback, and the reason.
    cp "$MODEL"/labels.txt "$MODEL"/preprocess.json "$TEST_TMP/empty/"
    head -c 1000 "$MODEL/product.tflite" >"$TEST_TMP/empty/product.tflite"
    out=$(kassa --json recognize "$FIX"/BRD-SD_*.png --model "$TEST_TMP/empty" 2>"$TEST_TMP/err")
    expect_eq "broken model" model_error "$(json_drop_arrays <<<"$out" | json_field reason)"
    expect_contains "broken model warning" "product model:" "$(cat "$TEST_TMP/err")"
    err=$(kassa recognize "$FIX"/BRD-SD_*.png --model "$TEST_TMP/empty" 2>/dev/null)
    expect_match "broken model text" '^fallback to barcode: no barcode in the image; model error: ' "$err"
}

section_stdin()
{
    local out
    out=$(kassa --json recognize - --model "$MODEL" <"$(echo "$FIX"/MLK-1L_*.png)")
    expect_eq "stdin" MLK-1L "$(json_drop_arrays <<<"$out" | json_field sku)"
}

section_bad_input()
{
    expect_fail --usage kassa recognize
    expect_fail --usage kassa recognize a.png b.png
    expect_fail --usage kassa recognize a.png --model
    expect_fail --usage kassa recognize a.png --bogus
    expect_fail --usage kassa recognize a.png --model "$MODEL" --model "$MODEL"
    expect_fail --grep 'threshold' kassa recognize "$FIX"/BRD-SD_*.png --threshold 2
    expect_fail --grep 'threshold' kassa recognize "$FIX"/BRD-SD_*.png --threshold x
    expect_fail --grep 'cannot open' kassa recognize "$TEST_TMP/none.png" --model "$MODEL"
    expect_fail --grep 'not a PNG or JPEG' kassa recognize "$FIX/bad/garbage.bin" --model "$MODEL"
    expect_fail --grep 'PNG: ' kassa recognize "$FIX/bad/truncated.png" --model "$MODEL"
    expect_fail --grep 'JPEG: ' kassa recognize "$FIX/bad/truncated.jpg" --model "$MODEL"
    expect_fail --grep 'too large' kassa recognize "$FIX/bad/huge_dims.png" --model "$MODEL"
    expect_fail --grep 'too large' kassa recognize "$FIX/bad/huge_dims.jpg" --model "$MODEL"
    expect_fail --grep 'empty image' kassa recognize "$FIX/bad/empty.png" --model "$MODEL"
}

run_section "products" section_products
run_section "fallbacks" section_fallbacks
run_section "model directory" section_model_dir
run_section "stdin" section_stdin
run_section "bad input" section_bad_input
finish
