#!/usr/bin/env bash
# Installs every Debian package kassa needs to build, test and run its demo.
# Idempotent and non-interactive: packages already present are not touched,
# so a second run costs one dpkg query.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config make
  clang clang-format libclang-rt-14-dev
  libsqlite3-dev sqlite3
  libsodium-dev
  libjansson-dev
  libcmocka-dev
  libevent-dev
  libinih-dev
  util-linux
  nodejs npm
  chromium
  wrk
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "deps: installing ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
