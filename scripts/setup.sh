#!/usr/bin/env bash
# One idempotent, offline-safe setup: Debian packages, npm packages, and the mediasoup worker built
# from the sources in node_modules (cached outside the checkout, keyed by mediasoup version).
# Usage: scripts/setup.sh [--no-browser] [--runtime-only]
#   --no-browser    skip Chromium and docker-compose (the image's build stage)
#   --runtime-only  only the Debian packages the built server needs to run, nothing else (the
#                   image's final stage: same list, so the image and a dev machine cannot drift)
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
log() { printf '[setup %3ss] %s\n' "$(( $(date +%s) - started ))" "$*"; }

# The worker links these dynamically (see `ldd mediasoup-worker`); libabsl20220623 holds abseil's .so files.
runtime_pkgs=(ffmpeg libuv1 libssl3 libsrtp2-1 libusrsctp2 libabsl20220623 procps)
build_pkgs=(meson ninja-build pkg-config g++ make python3 libuv1-dev libssl-dev libsrtp2-dev libabsl-dev nlohmann-json3-dev libusrsctp-dev)
test_pkgs=(chromium docker-compose fonts-dejavu-core redis-server)
runtime_only=false
with_browser=true
for arg in "$@"; do
  case $arg in
    --no-browser) with_browser=false ;;
    --runtime-only) runtime_only=true ;;
    *) echo "setup.sh: unknown option $arg (known: --no-browser, --runtime-only)" >&2; exit 2 ;;
  esac
done
pkgs=("${runtime_pkgs[@]}")
if ! $runtime_only; then
  pkgs+=("${build_pkgs[@]}")
  if $with_browser; then pkgs+=("${test_pkgs[@]}"); fi
fi

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

if $runtime_only; then
  log "done (runtime packages only)"
  exit 0
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
# A cached binary outlives Debian upgrades: say so plainly if one of its libraries is gone.
if ldd "$target" | grep -q 'not found'; then
  echo "mediasoup-worker cannot load its libraries:" >&2; ldd "$target" | grep 'not found' >&2
  echo "reinstall them, or delete $cached to rebuild" >&2; exit 1
fi
log "mediasoup-worker $version ready ($cached)"
log "done"
