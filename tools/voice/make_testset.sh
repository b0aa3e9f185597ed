#!/usr/bin/env bash
# tools/voice/make_testset.sh: speaks the voice test set into WAV files.
#
#   tools/voice/make_testset.sh OUT_DIR [MANIFEST]
#
# MANIFEST (default tests/fixtures/voice/orders.tsv) has one utterance per
# line: id, kind (order | oog), espeak-ng voice, words per minute, text,
# expected changes, tab-separated; '#' lines are comments. Each text is
# spoken by espeak-ng with its voice and speed, then converted by sox to
# 16 kHz mono 16-bit PCM: OUT_DIR/<id>.wav. espeak-ng and sox are
# deterministic here (sox without dither), so the same manifest gives the
# same files byte for byte. Prints how many files it wrote.
set -euo pipefail

if [ $# -lt 1 ] || [ $# -gt 2 ]; then
    echo "usage: $0 OUT_DIR [MANIFEST]" >&2
    exit 2
fi
out=$1
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
manifest=${2:-$here/../../tests/fixtures/voice/orders.tsv}

for tool in espeak-ng sox; do
    if ! command -v "$tool" >/dev/null; then
        echo "$0: $tool is missing (scripts/deps.sh installs it)" >&2
        exit 1
    fi
done
[ -r "$manifest" ] || { echo "$0: cannot read $manifest" >&2; exit 1; }
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

count=0
while IFS=$'\t' read -r id kind voice wpm text expected; do
    case $id in '' | '#'*) continue ;; esac
    if [ -z "${expected:-}" ] || ! [[ $id =~ ^[A-Za-z0-9_-]+$ ]] || ! [[ $wpm =~ ^[0-9]+$ ]]; then
        echo "$0: $manifest: bad line for '$id'" >&2
        exit 1
    fi
    case $kind in order | oog) ;; *) echo "$0: $id: kind '$kind'" >&2; exit 1 ;; esac
    espeak-ng -v "$voice" -s "$wpm" -w "$tmp/raw.wav" -- "$text"
    # -D: no dither, so the output is the same on every run; 1 dB of headroom
    # for the resampler.
    sox -D -V1 "$tmp/raw.wav" -r 16000 -c 1 -b 16 -e signed-integer "$out/$id.wav" gain -1
    count=$((count + 1))
done <"$manifest"
echo "$count utterances in $out"
