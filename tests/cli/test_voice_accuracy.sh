#!/usr/bin/env bash
# The voice test set end to end: tools/voice/make_testset.sh speaks the 64
# utterances of tests/fixtures/voice/orders.tsv with espeak-ng (six US
# English voices, several speeds) into a temporary directory, and
# bin/voice_eval decodes them with the grammar of data/demo/catalog.csv and
# data/demo/voice_synonyms.csv. Asserts the targets of the voice issue: at
# least 90 % of the orders exactly right (every change and quantity), at
# least 80 % of the utterances outside the grammar answered "please
# repeat". Prints the misses and the figures. The whole set runs under
# ASan too: decoding takes about 8 s there (pocketsphinx itself is not
# instrumented), 5 s in the release build.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

make_tmpdir
bash "$KASSA_SRC/tools/voice/make_testset.sh" "$TEST_TMP/wavs" \
    "$KASSA_TEST_FIXTURES/voice/orders.tsv"
n=$(find "$TEST_TMP/wavs" -name '*.wav' | wc -l)
expect_eq "generated utterances" 64 "$n"

rc=0
"$KASSA_BIN/voice_eval" --catalog "$KASSA_SRC/data/demo/catalog.csv" \
    --synonyms "$KASSA_SRC/data/demo/voice_synonyms.csv" \
    --manifest "$KASSA_TEST_FIXTURES/voice/orders.tsv" --wavs "$TEST_TMP/wavs" \
    --min-orders 90 --min-reject 80 >"$TEST_TMP/out" 2>&1 || rc=$?
cat "$TEST_TMP/out"
expect_eq "voice_eval exit status (0: both targets met)" 0 "$rc"
expect_match "order accuracy line" '^orders exactly right: [0-9]+/[0-9]+ ' "$(cat "$TEST_TMP/out")"
expect_match "rejection line" '^out of grammar answered "please repeat": ' "$(cat "$TEST_TMP/out")"
finish
