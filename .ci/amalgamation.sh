#!/usr/bin/env bash
# CI: the single header. Generates lib/fpq_single.h's content with tools/amalgamate.py (into a
# temporary directory; twice, to check the output is deterministic), then compiles the whole
# test suite against it instead of the library - every tests/*.c plus one file that defines
# FPQ_IMPLEMENTATION and includes it - with gcc and clang, as C99, C11 and C++17, with
# -Wall -Wextra -Wpedantic -Werror and OpenMP, and runs it. In the C++17 builds every file is
# compiled as C++ (`-x c++`), the implementation included: a C++ project that vendors the
# header compiles it as C++.
#
# The include path holds only the generated header and a two-line fpq.h that includes it, so
# a test that needed include/ or src/ would not compile. A name defined twice across the
# library's files (the header puts them all in one translation unit) fails here, loudly.
#
# Then once more for AArch64 (gcc-aarch64-linux-gnu, C99), whose backend tests (NEON against
# scalar) run under qemu-user.
#
#   .ci/amalgamation.sh              the six builds and the AArch64 one
#   CONFIGS="gcc:c99 g++:c++17" AARCH64=0 .ci/amalgamation.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIGS=${CONFIGS:-"gcc:c99 gcc:c11 g++:c++17 clang:c99 clang:c11 clang++:c++17"}
JOBS=$(nproc 2>/dev/null || echo 2)

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

start=$SECONDS
mkdir -p "$tmp/include"
python3 tools/amalgamate.py -o "$tmp/include/fpq_single.h"
python3 tools/amalgamate.py -o "$tmp/again.h"
cmp "$tmp/include/fpq_single.h" "$tmp/again.h" || { echo "amalgamate.py is not deterministic"; exit 1; }
printf '/* The test suite against the single header. */\n#include "fpq_single.h"\n' \
    >"$tmp/include/fpq.h"
printf '#define FPQ_IMPLEMENTATION\n#include "fpq_single.h"\n' >"$tmp/fpq_impl.c"
echo "fpq_single.h: $(wc -l <"$tmp/include/fpq_single.h") lines from" \
    "$(grep -c '^/\* ======== src/' "$tmp/include/fpq_single.h") source files"

# Builds config $1 (compiler:standard) into $tmp/$1/fpq_tests; prints the log on failure.
build() {
    local cc=${1%%:*} std=${1##*:} dir="$tmp/${1/:/-}" lang=() omp=()
    mkdir -p "$dir"
    case $std in c++*) lang=(-x c++) ;; esac
    if printf 'int main(void){return 0;}\n' | "$cc" -fopenmp -x c - -o /dev/null \
        >/dev/null 2>&1; then
        omp=(-fopenmp)
    fi
    local flags=(-std="$std" -O2 -Wall -Wextra -Wpedantic -Werror "${omp[@]}" -I"$tmp/include")
    local objs=() f o
    for f in "$tmp/fpq_impl.c" tests/*.c; do
        o="$dir/$(basename "$f" .c).o"
        "$cc" "${lang[@]}" "${flags[@]}" -c "$f" -o "$o" || return 1
        objs+=("$o")
    done
    "$cc" "${omp[@]}" "${objs[@]}" -o "$dir/fpq_tests" -lm
}

echo "building: $CONFIGS"
pids=()
for config in $CONFIGS; do
    build "$config" >"$tmp/${config/:/-}.log" 2>&1 &
    pids+=($!)
    # At most $JOBS builds at once.
    while [ "$(jobs -rp | wc -l)" -ge "$JOBS" ]; do sleep 0.2; done
done
failed=0
i=0
for config in $CONFIGS; do
    if ! wait "${pids[$i]}"; then
        echo "== $config: the build FAILED:"
        cat "$tmp/${config/:/-}.log"
        failed=1
    fi
    i=$((i + 1))
done
[ "$failed" = 0 ] || exit 1
echo "built in $((SECONDS - start)) s"

for config in $CONFIGS; do
    dir="$tmp/${config/:/-}"
    if ! "$dir/fpq_tests" tests/data >"$dir/run.log" 2>&1; then
        echo "== $config: tests FAILED:"
        grep -v '^ok ' "$dir/run.log"
        failed=1
    else
        echo "$config: $(tail -n 1 "$dir/run.log")"
    fi
done
[ "$failed" = 0 ] || exit 1

# AArch64: on x86-64 the NEON backend is preprocessed out, so a name of it that collides, or
# code that does not compile, would go unseen. Cross-compile the suite against the header and
# run the backend comparisons (NEON against scalar) under qemu-user.
if [ "${AARCH64:-1}" != 0 ]; then
    CROSS=aarch64-linux-gnu
    if ! command -v "$CROSS-gcc" >/dev/null 2>&1 || ! command -v qemu-aarch64 >/dev/null 2>&1
    then
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -q
        apt-get install -y -q "gcc-$CROSS" qemu-user
    fi
    dir="$tmp/aarch64-c99"
    mkdir -p "$dir"
    objs=()
    for f in "$tmp/fpq_impl.c" tests/*.c; do
        "$CROSS-gcc" -std=c99 -O2 -Wall -Wextra -Wpedantic -Werror -fopenmp -I"$tmp/include" \
            -c "$f" -o "$dir/$(basename "$f" .c).o"
        objs+=("$dir/$(basename "$f" .c).o")
    done
    "$CROSS-gcc" -fopenmp "${objs[@]}" -o "$dir/fpq_tests" -lm
    if ! qemu-aarch64 -L "/usr/$CROSS" "$dir/fpq_tests" tests/data backend >"$dir/run.log" 2>&1 ||
        ! grep -q '^    backend in use: neon$' "$dir/run.log"; then
        echo "== $CROSS-gcc:c99 (qemu): the backend tests FAILED or did not run on neon:"
        grep -v '^ok ' "$dir/run.log"
        exit 1
    fi
    echo "$CROSS-gcc:c99 (qemu, the backend tests, neon): $(tail -n 1 "$dir/run.log")"
fi
echo "single header: every build and test run passed in $((SECONDS - start)) s"
