#!/usr/bin/env bash
# Builds node_modules/mediasoup's worker from its shipped sources against Debian's libraries
# (offline: the upstream build downloads its subprojects). Writes the binary to $1.
# Recipe and why mediasoup 3.12.16: see README.md, "The mediasoup worker".
set -euo pipefail
out=$1
root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/node_modules/mediasoup/worker"
build=$(mktemp -d /tmp/mediasoup-worker-build.XXXXXX)
trap 'rm -rf "$build"' EXIT

cp -r "$src/." "$build/"
cd "$build"
# Debian bookworm ships meson 1.0.1; the worker builds fine with it.
sed -i "s/meson_version: '>= 1.1.0'/meson_version: '>= 1.0.0'/" meson.build
rm -f subprojects/*.wrap

# Each shim wraps a system library under the variable names the worker's meson.build reads.
# The *_lib variables go into link_whole, so they must be (empty) static libraries.
shim() { # name, meson body
  mkdir -p "subprojects/$1"
  : > "subprojects/$1/empty.c"
  printf '%s\n' "project('$1', 'c')" "$2" > "subprojects/$1/meson.build"
  cat > "subprojects/$1/meson_options.txt" <<'OPTS'
option('build_tests', type: 'boolean', value: false)
option('build_benchmarks', type: 'boolean', value: false)
option('crypto-library', type: 'string', value: 'openssl')
option('crypto-library-kdf', type: 'string', value: 'disabled')
option('tests', type: 'string', value: 'disabled')
option('sctp_build_programs', type: 'boolean', value: false)
OPTS
}
empty="static_library('shim', 'empty.c')"
shim openssl "openssl_dep = dependency('openssl')
libcrypto_lib = $empty
libssl_lib = libcrypto_lib"
shim libuv "libuv_dep = dependency('libuv')
libuv = $empty"
shim libsrtp2 "_srtp = dependency('libsrtp2')
libsrtp2_dep = declare_dependency(dependencies: _srtp,
  compile_args: ['-I' + _srtp.get_variable(pkgconfig: 'includedir') + '/srtp2'])
libsrtp2 = $empty"
shim usrsctp "usrsctp_dep = dependency('usrsctp')
usrsctp = $empty"
shim abseil-cpp "absl_container_dep = dependency('absl_flat_hash_map')
absl_strings_dep = dependency('absl_strings')
absl_types_dep = dependency('absl_optional')
absl_container_lib = $empty"
shim nlohmann_json "nlohmann_json_dep = dependency('nlohmann_json')"
shim catch2 "catch2_dep = declare_dependency()"

meson setup build --buildtype release -Db_ndebug=true >meson-setup.log 2>&1 || { cat meson-setup.log; exit 1; }
ninja -C build mediasoup-worker
mkdir -p "$(dirname "$out")"
cp build/mediasoup-worker "$out.tmp"
mv "$out.tmp" "$out"
