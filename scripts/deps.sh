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
  libssl-dev
  protobuf-c-compiler libprotobuf-c-dev
  libzstd-dev zstd
  libavahi-core-dev
  iproute2
  util-linux
  chromium
  wrk
  curl
  etcd-server etcd-client
  postgresql-15 postgresql-client-15 libpq-dev
  libxnnpack-dev libpthreadpool-dev
  libpng-dev libjpeg62-turbo-dev libzbar-dev
  libxgboost-dev
  libpocketsphinx-dev pocketsphinx-en-us espeak-ng sox
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

# Node.js may come from elsewhere than Debian (this machine kind has a newer
# one preinstalled, whose package conflicts with Debian's npm): only install
# Debian's when there is no node/npm at all.
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  missing+=(nodejs npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
  fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# Node modules for the browser and API tests only (never for the product),
# exactly as the committed lock file says; again only when they changed.
cd "$(dirname "$0")/.."
if [ -f package-lock.json ]; then
  stamp=node_modules/.kassa-lock.sha256
  want=$(sha256sum package-lock.json | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "deps: npm ci"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
  fi
fi
