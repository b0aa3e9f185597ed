#!/usr/bin/env bash
# Debian packages for the offline training tools under tools/ only (never
# needed by `make check` or `make demo`: the trained models are committed).
# The tools run with /usr/bin/python3, Debian's interpreter.
set -euo pipefail
PACKAGES=(python3-torch python3-numpy python3-pil python3-flatbuffers python3-xgboost python3-sklearn)
missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "deps-tools: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
