#!/usr/bin/env bash
# One idempotent, offline-safe setup: Debian packages, npm packages, and the mediasoup worker built
# from the sources in node_modules (cached outside the checkout, keyed by mediasoup version).
# Usage: scripts/setup.sh [--no-browser]   (--no-browser: skip Chromium and docker-compose, e.g. in the image)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

runtime_pkgs=(ffmpeg libuv1 libssl3 libsrtp2-1 libusrsctp2 procps)
build_pkgs=(meson ninja-build pkg-config g++ make python3 libuv1-dev libssl-dev libsrtp2-dev libabsl-dev nlohmann-json3-dev libusrsctp-dev)
test_pkgs=(chromium docker-compose fonts-dejavu-core)
pkgs=("${runtime_pkgs[@]}" "${build_pkgs[@]}")
[[ " $* " == *" --no-browser "* ]] || pkgs+=("${test_pkgs[@]}")

# 1. Debian packages: only what is missing, and apt-get update only when something is.
missing=()
for pkg in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if ((${#missing[@]})); then
  log "installing Debian packages: ${missing[*]}"
  sudo=""; [[ $(id -u) == 0 ]] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
  log "Debian packages present"
fi

# 2. npm packages. --ignore-scripts: mediasoup's postinstall downloads a worker, which fails offline.
stamp=node_modules/.setup-stamp
want="$(sha256sum package-lock.json | cut -d' ' -f1) node-$(node -v)"
if [[ -f $stamp && $(cat "$stamp") == "$want" ]]; then
  log "node_modules up to date"
else
  log "npm ci"
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
  echo "$want" > "$stamp"
fi

# 3. The mediasoup worker.
version=$(node -p "require('mediasoup/package.json').version")
cache_dir=${WEBRTC_HLS_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/webrtc-hls}
cached="$cache_dir/mediasoup-worker-$version-$(uname -m)"
target=node_modules/mediasoup/worker/out/Release/mediasoup-worker
if [[ ! -x $cached ]]; then
  log "building mediasoup-worker $version (4-6 minutes on 2 cores)"
  bash scripts/build-mediasoup-worker.sh "$cached" > /tmp/mediasoup-worker-build.log 2>&1 || {
    tail -n 40 /tmp/mediasoup-worker-build.log; exit 1; }
fi
if ! cmp -s "$cached" "$target"; then
  mkdir -p "$(dirname "$target")"
  cp "$cached" "$target"
fi
log "mediasoup-worker $version ready ($cached)"
log "done"
