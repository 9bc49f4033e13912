#!/usr/bin/env bash
# CI: cross-build the test suite for AArch64 and run it under qemu-user, twice: with the NEON
# backend (which test_backends.c holds to the scalar bits) and with -DFPQ_NO_SIMD (the scalar
# reference alone; the search cases only in the first run). Installs gcc-aarch64-linux-gnu and qemu-user when missing (Debian/Ubuntu).
#
# Everything it builds goes to build-aarch64*/ (the static library included, instead of the
# shared lib/libfpq.a), and those directories are removed on exit, pass or fail: a native build
# in the same tree is neither disturbed nor deleted.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==== %s\n' "$*"; }

CROSS=aarch64-linux-gnu
SYSROOT=/usr/$CROSS
JOBS=$(nproc 2>/dev/null || echo 2)

if ! command -v "$CROSS-gcc" >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1; then
    step "installing: gcc-$CROSS qemu-user"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q "gcc-$CROSS" qemu-user
fi

builddirs=()
cleanup() { rm -rf "${builddirs[@]}"; }
trap cleanup EXIT

# build_and_test DIR EXPECTED_BACKEND [extra CFLAGS]
build_and_test() {
    local dir=$1 expect=$2 cflags=${3:-} filter=${4:-} log
    builddirs+=("$dir")
    rm -rf "$dir"
    make -j"$JOBS" CC="$CROSS-gcc" AR="$CROSS-ar" CFLAGS="$cflags" BUILDDIR="$dir" \
        STATIC_LIB="$dir/libfpq.a" "$dir/fpq_tests" >/dev/null
    log="$dir/tests.log"
    qemu-aarch64 -L "$SYSROOT" "$dir/fpq_tests" tests/data ${filter:+"$filter"} | tee "$log"
    # The suite's exit status is checked by set -e (pipefail); also make sure the backend that
    # was meant to be tested is the one that ran.
    grep -q "^    backend in use: $expect\$" "$log" || {
        echo "expected backend '$expect' in use"; exit 1; }
    if [ "$expect" = neon ]; then
        grep -q '^    backends compared with scalar: 1$' "$log" || {
            echo "the neon backend was not compared with scalar"; exit 1; }
    fi
}

step "aarch64 (qemu-user): make fpq_tests and run it, NEON backend"
build_and_test build-aarch64 neon

step "aarch64 (qemu-user -cpu cortex-a57, no dot product): the linear layer's plain-NEON kernel"
qemu-aarch64 -cpu cortex-a57 -L "$SYSROOT" build-aarch64/fpq_tests tests/data "linear:"

# Without SIMD the scalar code runs alone; it already ran above, as the reference every NEON
# result was compared with. The search and layer-search cases, the slowest under qemu and the
# least tied to the backend, are left out here.
step "aarch64 (qemu-user): make fpq_tests and run all but the search cases, -DFPQ_NO_SIMD"
build_and_test build-aarch64-nosimd scalar -DFPQ_NO_SIMD "!search"

step "aarch64 steps passed"
